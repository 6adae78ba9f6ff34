"""The gateway's security settings (docs/security.md): one object from the Flow's ``with:``
block or the ``flowserve gateway`` flags, carried whole inside :class:`GatewayConfig`."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .limits import LIMIT_NAMES, Limits
from .tls import TlsFiles

if TYPE_CHECKING:
    from ..config.security import GatewaySecurityOptions
    from .auth import TokenTable

__all__ = ["SecurityConfig", "add_security_flags"]


@dataclass(frozen=True)
class SecurityConfig:
    """TLS of the gateway's servers, its bearer tokens, its resource limits, and what clients
    may send and see (:mod:`.guard`)."""

    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    tokens_file: str | None = None
    tokens_env: str | None = None
    executor_ssl_cafile: str | None = None
    """TLS to the executors, trusting this CA (deployments without a mesh)."""
    limits: Limits = field(default_factory=Limits)
    error_detail: str = "stack"
    allow_target_executor: bool = True

    @classmethod
    def from_options(cls, opts: GatewaySecurityOptions) -> SecurityConfig:
        return cls(ssl_certfile=opts.ssl_certfile, ssl_keyfile=opts.ssl_keyfile,
                   tokens_file=opts.tokens_file, tokens_env=opts.tokens_env,
                   executor_ssl_cafile=opts.executor_ssl_cafile,
                   limits=_limits(opts), error_detail=opts.error_detail or "stack",
                   allow_target_executor=opts.allow_target_executor)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SecurityConfig:
        return cls(ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                   tokens_file=args.tokens_file, tokens_env=args.tokens_env,
                   executor_ssl_cafile=args.executor_ssl_cafile,
                   limits=_limits(args), error_detail=args.error_detail,
                   allow_target_executor=not args.forbid_target_executor)

    def to_argv(self) -> list[str]:
        """The `flowserve gateway` flags of these settings (none at the defaults)."""
        argv: list[str] = []
        defaults = Limits()
        for name in LIMIT_NAMES:
            value = getattr(self.limits, name)
            if value != getattr(defaults, name):
                argv += [f"--{name.replace('_', '-')}", str(value)]
        if self.ssl_certfile and self.ssl_keyfile:
            argv += ["--ssl-certfile", self.ssl_certfile, "--ssl-keyfile", self.ssl_keyfile]
        if self.tokens_file:
            argv += ["--tokens-file", self.tokens_file]
        if self.tokens_env:
            argv += ["--tokens-env", self.tokens_env]
        if self.executor_ssl_cafile:
            argv += ["--executor-ssl-cafile", self.executor_ssl_cafile]
        if self.error_detail != "stack":
            argv += ["--error-detail", self.error_detail]
        if not self.allow_target_executor:
            argv += ["--forbid-target-executor"]
        return argv

    def executor_credentials(self) -> Any:
        """gRPC channel credentials for the executors (TLS trusting the CA), or None."""
        if not self.executor_ssl_cafile:
            return None
        import grpc

        from .tls import read_pem

        return grpc.ssl_channel_credentials(
            root_certificates=read_pem(self.executor_ssl_cafile, "executor_ssl_cafile"))

    def tokens(self, environ: Mapping[str, str]) -> TokenTable | None:
        """The bearer tokens, read now; None when authentication is off."""
        from .auth import load_tokens

        return load_tokens(self.tokens_file, self.tokens_env, environ)

    def tls(self) -> TlsFiles | None:
        """The certificate and key, read now; None when TLS is off."""
        if self.ssl_certfile and self.ssl_keyfile:
            return TlsFiles(self.ssl_certfile, self.ssl_keyfile)
        return None


def _limits(source: Any) -> Limits:
    """The limits `source` (Flow options or parsed flags) sets, the defaults for the rest."""
    given = {name: getattr(source, name) for name in LIMIT_NAMES}
    return dataclasses.replace(Limits(), **{k: v for k, v in given.items() if v is not None})


def add_security_flags(p: argparse.ArgumentParser) -> None:
    """The `flowserve gateway` flags of :class:`SecurityConfig`."""
    g = p.add_argument_group("security (docs/security.md)")
    g.add_argument("--ssl-certfile", default=None,
                   help="serve gRPC and HTTP over TLS with this PEM certificate chain")
    g.add_argument("--ssl-keyfile", default=None, help="the PEM private key of --ssl-certfile")
    g.add_argument("--executor-ssl-cafile", default=None,
                   help="call executors over TLS, trusting this PEM CA (no mesh)")
    g.add_argument("--tokens-file", default=None,
                   help="require a bearer token: a file of name:token lines")
    g.add_argument("--tokens-env", default=None, metavar="VAR",
                   help="require a bearer token: environment variable VAR holds name:token "
                        "entries (newline- or comma-separated)")
    g.add_argument("--error-detail", choices=["stack", "message"], default="stack",
                   help="what clients see of an executor's exception: its stack trace too "
                        "(default, as in Jina) or only its name and message")
    g.add_argument("--forbid-target-executor", action="store_true",
                   help="refuse requests that set target_executor (so none skips an executor)")
    defaults = Limits()
    for name in LIMIT_NAMES:
        default = getattr(defaults, name)
        g.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=None,
                       help=f"limit (default {default}; docs/security.md#limits)")
