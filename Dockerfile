# Worker image for docker-compose.yml: the repo at /app, installed with the pinned dependencies.
# EXTRAS picks the optional groups: `tools` (OCR, image ops) for the CPU worker, `tools,train`
# (torch, transformers, trl) for the GPU worker.
FROM python:3.11-slim
ARG EXTRAS=tools
WORKDIR /app
COPY pyproject.toml requirements.lock README.md prefect.yaml ./
COPY flows flows
COPY tasks tasks
COPY schemas schemas
COPY prompts prompts
COPY warehouse warehouse
COPY toolenv toolenv
COPY training training
COPY corpus corpus
# The lock pins the CPU torch wheel (`+cpu`, from the PyTorch index this repo's dev machines use); the
# image drops that local tag so the `train` extra gets PyPI's CUDA build of the same torch version.
RUN sed 's/+cpu$//' requirements.lock > /tmp/constraints.txt \
 && pip install --no-cache-dir -e ".[${EXTRAS}]" -c /tmp/constraints.txt
# The flows' default data_dir `var` under the working directory the deployments' pull step sets
# (SEARCHVL_REPO_DIR=/app); docker-compose mounts the warehouse volume here.
ENV SEARCHVL_DATA_DIR=/app/var \
    SEARCHVL_REPO_DIR=/app
