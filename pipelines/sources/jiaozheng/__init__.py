"""校正回流 — corrections from the five levels' nodes, collected from their inboxes by the sync
(pipelines/corrections.py) and delivered here as JSON lines, one file per node and collection."""

from pipelines.sources.spec import JsonLinesFormat, SourceSpec

SPEC = SourceSpec(
    system="jiaozheng",
    label="校正回流 五级节点更正",
    table="corrections",
    entity="correction",
    format=JsonLinesFormat(),
    file_glob="*.jsonl",
    columns={  # the delivery's keys are the labels a node worker sees
        "更正编号": "correction_id",
        "人员编号": "person_id",
        "节点代码": "node_code",
        "联系电话": "phone",
        "居住状况": "living_status",
        "姓名": "name",
        "公民身份号码": "id_number",
        "出生日期": "birth_date",
        "性别": "sex",
        "更正原因": "correction_reason",
        "核实人": "corrected_by",
        "核实时间": "corrected_at",
    },
    required=("correction_id", "person_id", "node_code", "corrected_by", "corrected_at"),
    on_demand=True,
    cadence_days=0,
    description="街道、社区核实后的电话与居住状况更正，省级权威更正；由各级节点收件箱回流，按字段权威与时间择优。",
    feeds=("persons", "elderly"),
)
