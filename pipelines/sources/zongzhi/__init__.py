"""综治 — grid governance: events reported by grid workers with free-text locations, JSON lines."""

from pipelines.sources.spec import JsonLinesFormat, SourceSpec

SPEC = SourceSpec(
    system="zongzhi",
    label="综治 网格事件",
    table="grid_events",
    entity="event",
    format=JsonLinesFormat(),
    file_glob="*.jsonl",
    columns={
        "event_no": "event_id",
        "report_time": "reported_at",
        "grid_code": "grid_code",
        "reporter": "reporter",
        "category": "event_category",
        "content": "description",
        "location": "address",
    },
    required=("event_id", "reported_at"),
    cadence_days=1,
    description="网格员上报事件：类别、描述、地点（自由文本）。",
    feeds=("grid_events",),
)
