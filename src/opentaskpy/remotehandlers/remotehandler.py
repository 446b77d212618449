"""Base classes for protocol handlers, shared by the core and by addons.

The set of abstract methods is part of the addon contract: adding one would
make every published addon handler abstract, so new optional behaviour goes
into concrete methods with safe defaults instead.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentaskpy.fs.streaming import Content

_VARIABLE_NAME = re.compile(r"^[\w.\[\]]+$")
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class RemoteHandler(ABC):  # noqa: B024 - abstract by contract, methods live in subclasses
    """Common root of transfer and execution handlers."""

    def __init__(self, spec: dict):
        """Store the handler's spec (the same dict object, never a copy).

        Args:
            spec: the source/destination spec (transfers) or the whole execution
                definition (executions). Task handlers add ``task_id``; without
                it (a handler built directly) logging goes to the console only.
        """
        self.spec = spec

    def tidy(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections and clients; called when the task finishes."""

    def handle_cacheable_variables(self) -> None:  # noqa: B027
        """Persist cacheable variables; a no-op unless a handler overrides it."""

    def obtain_variable_from_spec(self, variable_name: str, spec: dict) -> str:
        """Return the value at a dotted path (with ``[n]`` indexes) in ``spec``.

        Args:
            variable_name: e.g. ``accessToken``, ``protocol.refreshToken`` or
                ``destinations[0].hostname``.
            spec: the dict to walk.

        Returns:
            The value, converted with ``str()``.

        Raises:
            ValueError: the name is not a valid variable path.
            KeyError: a path component does not exist.
        """
        if not isinstance(variable_name, str) or not _VARIABLE_NAME.match(
            variable_name
        ):
            raise ValueError(
                f"Variable name {variable_name} is not a valid variable name."
            )
        value: Any = spec
        for key, index in _PATH_PART.findall(variable_name):
            value = value[key] if key else value[int(index)]
        return str(value)


_CAPABILITIES = (
    "files_on_worker",
    "final_move_on_host",
    "missing_files_fail",
    "keeps_staging_dir",
)


class RemoteTransferHandler(RemoteHandler):
    """A transfer protocol: lists, fetches, delivers and tidies files.

    The ``files`` arguments are dicts keyed by file path (or object key) whose
    values hold ``size`` (bytes) and ``modified_time`` (epoch seconds).
    Methods return 0 for success and non-zero for failure.

    What a protocol can do is declared by the class attributes below (and
    by :meth:`supports_direct_transfer`, :meth:`can_stream_from` and
    :meth:`can_stream_to`); the transfer asks them and never looks at the
    protocol name. The defaults are what an addon handler gets.
    """

    #: The source's files already are on the worker (in its ``directory``):
    #: nothing is staged and destinations are fed from that directory.
    files_on_worker: bool = False
    #: Delivered files land in a staging area on the destination host and
    #: :meth:`move_files_to_final_location` publishes them afterwards.
    final_move_on_host: bool = False
    #: A source listing no files fails the transfer (``error`` in the source
    #: spec can turn that off); ``False`` for sources that never have files.
    missing_files_fail: bool = True
    #: The worker staging directory is left in place after the run.
    keeps_staging_dir: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass the default capabilities unless it declares its own.

        A subclass of a built-in handler is another protocol (an addon):
        it must not silently take, say, the local source's "files are on
        the worker" when it stages files itself.
        """
        super().__init_subclass__(**kwargs)
        for name in _CAPABILITIES:
            if name not in cls.__dict__:
                setattr(cls, name, getattr(RemoteTransferHandler, name))

    def __init__(self, spec: dict, remote_spec: dict | None = None):
        """Store the spec and an optional remote spec.

        Args:
            spec: this end's spec.
            remote_spec: the other end's spec, where a handler needs it.
        """
        self.remote_spec = remote_spec
        super().__init__(spec)

    @abstractmethod
    def supports_direct_transfer(self) -> bool:
        """Whether ``transfer_files`` can copy straight to a same-class handler."""

    @abstractmethod
    def list_files(
        self, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        """List files matching ``file_pattern`` in ``directory``."""

    @abstractmethod
    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: Any = None
    ) -> int:
        """Copy files directly from this source to a destination."""

    @abstractmethod
    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Deliver files from the worker's staging directory to this end."""

    @abstractmethod
    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        """Fetch files from this source into the worker's staging directory."""

    @abstractmethod
    def pull_files(self, files: dict) -> int:
        """Have this destination pull files from the source itself."""

    @abstractmethod
    def move_files_to_final_location(self, files: dict) -> int:
        """Move staged files into the destination directory."""

    @abstractmethod
    def handle_post_copy_action(self, files: dict) -> int:
        """Move, rename or delete the source files after a successful transfer."""

    def connect_ahead(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Start connecting in the background, if the protocol can.

        Called for destinations while the source is listed. It must not write
        anything at this end: a transfer that finds nothing to send leaves
        no trace there, and a failed attempt must not change what the
        first real use reports.
        """

    # Streaming through the worker (optional, see opentaskpy.fs.streaming).

    def can_stream_from(self) -> bool:
        """Whether this source implements :meth:`stream_files`."""
        return False

    def can_stream_to(self) -> bool:
        """Whether this destination implements :meth:`push_streams`."""
        return False

    def stream_files(self, files: dict) -> list[Content]:
        """Return the source ``files`` as contents read while being written."""
        raise NotImplementedError

    def push_streams(self, contents: list[Content]) -> int:
        """Deliver contents like :meth:`push_files_from_worker` delivers files."""
        raise NotImplementedError


class RemoteExecutionHandler(RemoteHandler):
    """An execution protocol: runs a command somewhere and reports success."""

    #: Built once per entry of the definition's ``hosts`` as
    #: ``cls(host, definition)`` (``cls(definition)`` without ``hosts``),
    #: without ``global_protocol_vars``. Addons get ``cls(definition)`` and
    #: their protocol variables. Not inherited, like the transfer
    #: capabilities: each protocol declares it.
    runs_per_host: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass the default unless it declares ``runs_per_host``."""
        super().__init_subclass__(**kwargs)
        if "runs_per_host" not in cls.__dict__:
            cls.runs_per_host = False

    @abstractmethod
    def execute(self) -> bool:
        """Run to completion; ``True`` on success."""

    def kill(self) -> None:
        """Stop a running ``execute()`` from another thread."""
