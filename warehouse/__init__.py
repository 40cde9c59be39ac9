"""DuckDB warehouse: migrations, named queries and one repository module per table family.

The only package that imports ``duckdb``. One writer process per file (DuckDB's own file lock);
callers own the connection's lifetime.
"""
