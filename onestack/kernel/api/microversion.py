"""Microversion negotiation: the ``OpenStack-API-Version`` header and the legacy
per-service headers (``X-OpenStack-Nova-API-Version`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass

from onestack.kernel.api.faults import NotAcceptable


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> Version:
        major, _, minor = text.strip().partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError(text)
        return cls(int(major), int(minor))


@dataclass(frozen=True)
class MicroversionSpec:
    """What a service declares: its header name, and its versions oldest first."""

    service_type: str          # as in the header: "compute", "placement", "volume"
    versions: tuple[str, ...]  # each with a comment at its definition in the service
    legacy_header: str = ""    # e.g. "X-OpenStack-Nova-API-Version"

    @property
    def minimum(self) -> Version:
        return Version.parse(self.versions[0])

    @property
    def maximum(self) -> Version:
        return Version.parse(self.versions[-1])


def negotiate(spec: MicroversionSpec, headers: dict[str, str]) -> Version:
    """The version a request asked for; the minimum when it asked for none."""
    requested = None
    header = headers.get("openstack-api-version")
    if header:
        for item in header.split(","):
            name, _, value = item.strip().partition(" ")
            if name.lower() == spec.service_type:
                requested = value.strip()
    if requested is None and spec.legacy_header:
        requested = headers.get(spec.legacy_header.lower())
    if not requested:
        return spec.minimum
    if requested.lower() == "latest":
        return spec.maximum
    try:
        version = Version.parse(requested)
    except ValueError:
        raise NotAcceptable(f"Invalid microversion {requested!r}.") from None
    if not spec.minimum <= version <= spec.maximum:
        raise NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {spec.minimum} "
            f"and maximum is {spec.maximum}."
        )
    return version


def response_headers(spec: MicroversionSpec, version: Version) -> dict[str, str]:
    headers = {
        "OpenStack-API-Version": f"{spec.service_type} {version}",
        "Vary": "OpenStack-API-Version",
    }
    if spec.legacy_header:
        headers[spec.legacy_header] = str(version)
        headers["Vary"] += f", {spec.legacy_header}"
    return headers
