"""The small exception hierarchy. Per-item failures are rows, not exceptions; these are systemic."""


class PipelineError(Exception):
    """Base class: a systemic failure that stops a run with a one-line reason."""


class ConfigError(PipelineError):
    """Invalid settings or run config (the message lists each bad field)."""


class WarehouseError(PipelineError):
    """The warehouse cannot be opened, migrated, or is locked by another writer."""


class SourceError(PipelineError):
    """A source (dump, ZIM, API) is unreadable; names the file and how far it got."""
