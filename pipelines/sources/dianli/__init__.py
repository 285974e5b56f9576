"""电力 — State Grid: daily meter readings per account and address, Parquet (the largest table)."""

from pipelines.sources.spec import ParquetFormat, SourceSpec

SPEC = SourceSpec(
    system="dianli",
    label="电力 日用电量",
    table="meter_readings",
    entity="meter_reading",
    format=ParquetFormat(),
    file_glob="*.parquet",
    columns={
        "cons_no": "power_account_no",
        "cons_name": "name",
        "elec_addr": "address",
        "data_date": "reading_date",
        "pap_e": "kwh",
    },
    required=("power_account_no", "reading_date", "kwh"),
    cadence_days=1,
    description="居民用户日用电量（国网营销系统），用于独居老人用电异常关怀。",
    feeds=("power_daily",),
    bulk=True,
)
