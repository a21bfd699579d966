"""Page-number pagination whose `page` parameter means what the schema says: a positive integer."""

import re
from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

_PAGE_NUMBER = re.compile(r"[1-9][0-9]*", re.ASCII)


class StrictPageNumberPagination(PageNumberPagination):
    """`?page=` must be a positive integer written in ASCII digits, or it is a 400 on the field `page`.

    DRF's own class reads an empty `?page=` as page 1, takes "last" and any digits Python's int() takes
    (" 2", "٣"); a page past the last one stays DRF's 404.
    """

    last_page_strings = ()
    page_query_description = "A page number, from 1; a page past the last one is a 404."

    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not _PAGE_NUMBER.fullmatch(raw):
            raise ValidationError({self.page_query_param: ["A page number is an integer from 1."]})
        return int(raw)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
