// Drives `kms serve` with the official Node.js SDK's core, unmodified as npm installs it:
// its HcClient sends each call and its AK/SK signer (SDK-HMAC-SHA256, every header
// signed, the body as JSON.stringify writes it) signs it.
//
// Reads one JSON plan on standard input (so the secret key is never on a command line):
//   {"endpoint", "ak", "sk", "project_id", "out", "calls": [{"method", "path", "body"}]}
// where a path holds "{project_id}" as the SDK's own paths do. Makes the calls in order and
// writes to "out" (the SDK logs to standard output) one JSON array with, per call,
// {"status", "body"} for an answer in 2xx, or {"status", "error_code", "error_msg",
// "request_id"} as the SDK's exception has them.
'use strict';

const fs = require('fs');
const { BasicCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
const { ClientBuilder } = require('@huaweicloud/huaweicloud-sdk-core/ClientBuilder');

async function main() {
  const plan = JSON.parse(fs.readFileSync(0, 'utf8'));
  const credentials = new BasicCredentials()
    .withAk(plan.ak)
    .withSk(plan.sk)
    .withProjectId(plan.project_id);
  const client = new ClientBuilder((hcClient) => hcClient)
    .withCredential(credentials)
    .withEndpoint(plan.endpoint)
    .build();
  const results = [];
  for (const call of plan.calls) {
    const options = {
      method: call.method,
      url: call.path,
      contentType: 'application/json;charset=UTF-8',
      queryParams: {},
      pathParams: {},
      headers: {},
    };
    if (call.body !== undefined) {
      options.data = call.body;
    }
    try {
      const answer = await client.sendRequest(options);
      const status = answer.httpStatusCode;
      delete answer.httpStatusCode;
      results.push({ status, body: answer });
    } catch (error) {
      results.push({
        status: error.httpStatusCode ?? null,
        error_code: error.errorCode ?? null,
        error_msg: error.errorMsg ?? null,
        request_id: error.requestId ?? null,
      });
    }
  }
  fs.writeFileSync(plan.out, JSON.stringify(results));
}

main().catch((error) => {
  console.error(`node SDK client: ${error.stack || error}`);
  process.exit(1);
});
