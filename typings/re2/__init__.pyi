# Types for the parts of google-re2 (module ``re2``) that Helios uses; the package ships none.
from typing import Any, AnyStr, Generic

class error(Exception): ...

class Options:
    max_mem: int
    log_errors: bool
    never_capture: bool
    def __init__(self) -> None: ...

class _Match(Generic[AnyStr]):
    def group(self, *args: Any) -> Any: ...

class _Regexp(Generic[AnyStr]):
    def fullmatch(self, text: AnyStr) -> _Match[AnyStr] | None: ...

def compile(pattern: AnyStr, options: Options | None = ...) -> _Regexp[AnyStr]: ...
