"""A KmsClient of the official SDK pointed at `kms serve`, built the way its users build
one, with a recorder of what went over the wire (the SDK's own HttpHandler hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm
from huaweicloudsdkkms.v2 import KmsClient

from kms_serve import AccessKey

# The Authorization scheme each HttpConfig.signing_algorithm writes.
SCHEMES = {
    SigningAlgorithm.HMAC_SHA256: "SDK-HMAC-SHA256",
    SigningAlgorithm.HMAC_SM3: "SDK-HMAC-SM3",
    SigningAlgorithm.ECDSA_P256_SHA256: "SDK-ECDSA-P256-SHA256",
    SigningAlgorithm.SM2_SM3: "SDK-SM2-SM3",
}


@dataclass
class Exchange:
    """One request the SDK sent and the response it got."""

    method: str
    url: str
    authorization: str
    status: int | None = None
    request_id: str | None = None


@dataclass
class Wire:
    """Every exchange of one client, in order."""

    exchanges: list[Exchange] = field(default_factory=list)

    def handler(self) -> HttpHandler:
        def on_request(**kwargs):
            request = kwargs["request"]
            self.exchanges.append(
                Exchange(
                    method=request.method,
                    url=request.url,
                    authorization=request.header_params.get("Authorization", ""),
                )
            )

        def on_response(**kwargs):
            response = kwargs["response"]
            last = self.exchanges[-1]
            last.status = response.status_code
            last.request_id = response.headers.get("X-Request-Id")

        return HttpHandler().add_request_handler(on_request).add_response_handler(on_response)

    def last(self) -> Exchange:
        return self.exchanges[-1]


def kms_client(
    url: str,
    access_key: AccessKey,
    *,
    signing_algorithm: SigningAlgorithm | None = None,
    ca_cert: str | None = None,
    wire: Wire | None = None,
) -> KmsClient:
    """A KmsClient for `url`. With neither `signing_algorithm` nor `ca_cert` it is exactly
    the client of the SDK's documentation (default HttpConfig, SDK-HMAC-SHA256)."""
    builder = (
        KmsClient.new_builder()
        .with_credentials(BasicCredentials(access_key.ak, access_key.sk, access_key.project_id))
        .with_endpoints([url])
    )
    if signing_algorithm is not None or ca_cert is not None:
        config = HttpConfig.get_default_config()
        if signing_algorithm is not None:
            config.signing_algorithm = signing_algorithm
        if ca_cert is not None:
            config.ssl_ca_cert = ca_cert
        builder = builder.with_http_config(config)
    if wire is not None:
        builder = builder.with_http_handler(wire.handler())
    return builder.build()
