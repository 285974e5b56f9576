"""气象 — weather: warnings by area code, level and time window, XML."""

from pipelines.sources.spec import SourceSpec, XmlFormat

SPEC = SourceSpec(
    system="qixiang",
    label="气象 预警信号",
    table="weather_warnings",
    entity="warning",
    format=XmlFormat(record_tag="alert"),
    file_glob="*.xml",
    columns={
        "identifier": "warning_id",
        "areaCode": "division_code",
        "eventType": "warning_type",
        "severity": "warning_level",
        "sendTime": "issued_at",
        "effective": "starts_at",
        "expires": "ends_at",
        "description": "description",
    },
    required=("warning_id", "division_code", "warning_level"),
    cadence_days=1,
    description="气象灾害预警信号（按行政区划代码发布）。",
    feeds=("weather_warnings",),
)
