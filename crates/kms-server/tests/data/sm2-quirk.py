# Regenerates sm2-quirk.json with the official Python SDK's own signer
# (huaweicloudsdkcore 3.1.219 from PyPI; run with HOME set to a scratch directory, since
# importing the SDK writes ~/.huaweicloud/application_id).
#
# It searches access keys, with the test secret key, for the first two whose derived
# SDK-SM2-SM3 public key has a leading zero byte in x and in y, and signs one request with
# each. The SDK builds Z_A from minimal-length integers, so these signatures verify only
# under that non-standard Z_A: the server must accept them.
import json

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import SM2SM3Signer

SK = "testSecretKey0123456789abcdefghijklmnopqr"
PROJECT = "0123456789abcdef0123456789abcdef"
BODY = ('{"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "plain_text": "00ff", '
        '"datakey_plain_length": "32"}')

found = {}
i = 0
while len(found) < 2:
    ak = "QUIRKAK%013d" % i
    i += 1
    key = SM2SM3Signer(BasicCredentials(ak, SK, PROJECT)).get_signing_key()
    x, y = key._public_key
    if x < (1 << 248) and "x" not in found:
        found["x"] = (ak, key)
    elif y < (1 << 248) and "y" not in found:
        found["y"] = (ak, key)

out = []
for which, (ak, key) in sorted(found.items()):
    x, y = key._public_key
    req = SdkRequest(method="POST", schema="http", host="127.0.0.1:18443",
                     resource_path="/v1.0/%s/kms/encrypt-datakey" % PROJECT,
                     query_params=[], header_params={
                         "Content-Type": "application/json;charset=utf-8",
                         "User-Agent": "huaweicloud-usdk-python/3.0; test",
                         "X-Project-Id": PROJECT,
                         "X-Sdk-Date": "20261201T070246Z",
                     }, body=BODY)
    SM2SM3Signer(BasicCredentials(ak, SK, PROJECT)).sign(req)
    out.append({
        "leading_zero_in": which,
        "ak": ak, "sk": SK,
        "d_hex": "%064x" % key._private_key,
        "public_uncompressed_hex": "04%064x%064x" % (x, y),
        "method": req.method, "uri": req.uri,
        "headers": dict(req.header_params),
        "body": BODY,
    })
with open("sm2-quirk.json", "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
