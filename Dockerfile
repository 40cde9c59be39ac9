FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY flows flows
COPY tasks tasks
COPY schemas schemas
COPY prompts prompts
COPY warehouse warehouse
COPY toolenv toolenv
COPY training training
COPY corpus corpus
RUN pip install --no-cache-dir -e ".[tools]" -c requirements.lock
ENV SEARCHVL_DATA_DIR=/data
