"""民政 — civil affairs: 低保/低边/特困 families and their monthly payments, XLSX report layout."""

from pipelines.sources.spec import PersonRole, SourceSpec, XlsxFormat

SPEC = SourceSpec(
    system="minzheng",
    label="民政 社会救助",
    table="needy_families",
    entity="person",
    # A report title row, then a two-row header whose top row groups columns in merged cells.
    format=XlsxFormat(title_rows=1, header_rows=2),
    file_glob="*.xlsx",
    columns={
        "姓名": "name",
        "身份证号": "id_number",
        "家庭人口": "family_size",
        "家庭住址": "address",
        "联系电话": "phone",
        "救助类别": "assistance_type",
        "月救助金额(元)": "monthly_amount",
        "发放月份": "payment_month",
        "起始日期": "start_date",
    },
    required=("name", "assistance_type"),
    ignored=("序号",),
    cadence_days=31,
    description="低保、低边、特困供养家庭（户主）及当月救助金发放。",
    persons=(PersonRole("person", "name", id_number="id_number"),),
    identity_rank=5,
    feeds=("persons", "welfare"),
)
