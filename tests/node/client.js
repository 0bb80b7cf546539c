// Calls every TextLens RPC from Node with @grpc/grpc-js, as a caller in another language
// would: the contract from proto/, google.rpc from third_party/googleapis, the published
// service config, and rich errors decoded from grpc-status-details-bin. Prints what it saw
// as one JSON object; the pytest test that starts it checks that.
//
// Environment: TEXTLENS_TARGET (host:port), TEXTLENS_TOKEN (a JWT with every scope),
// TEXTLENS_ROOT (the repository). Run through tests/e2e/test_node_client.py.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const root = process.env.TEXTLENS_ROOT;
const includeDirs = [path.join(root, "proto"), path.join(root, "third_party/googleapis")];

// keepCase: field names as the proto spells them; enums as their names.
const definition = protoLoader.loadSync(
  ["textlens/v1/analysis_service.proto", "textlens/v1/batch_service.proto"],
  { includeDirs, keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
);
const v1 = grpc.loadPackageDefinition(definition).textlens.v1;

// google.rpc.Status and its details, and ErrorReason, for decoding errors by hand.
const types = new protobuf.Root();
types.resolvePath = (origin, target) => {
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return target; // google/protobuf/*: protobufjs has the well-known types built in
};
types.loadSync(
  ["google/rpc/status.proto", "google/rpc/error_details.proto", "textlens/v1/errors.proto"],
  { keepCase: true },
);
const Status = types.lookupType("google.rpc.Status");
const ErrorReason = types.lookupEnum("textlens.v1.ErrorReason");
const DETAILS = {
  "type.googleapis.com/google.rpc.ErrorInfo": types.lookupType("google.rpc.ErrorInfo"),
  "type.googleapis.com/google.rpc.BadRequest": types.lookupType("google.rpc.BadRequest"),
  "type.googleapis.com/google.rpc.RetryInfo": types.lookupType("google.rpc.RetryInfo"),
  "type.googleapis.com/google.rpc.QuotaFailure": types.lookupType("google.rpc.QuotaFailure"),
};

// A google.rpc.Status as plain data: each detail decoded by its type URL, and the
// ErrorInfo reason mapped back to textlens.v1.ErrorReason as errors.proto says.
function describeStatus(status) {
  const details = {};
  for (const any of status.details) {
    const type = DETAILS[any.type_url];
    const name = any.type_url.split("/").pop();
    details[name] = type ? type.toObject(type.decode(any.value), { defaults: true }) : null;
  }
  const info = details["google.rpc.ErrorInfo"];
  const reasonNumber =
    info && info.domain === "textlens.v1"
      ? (ErrorReason.values[`ERROR_REASON_${info.reason}`] ?? 0)
      : null;
  return { code: status.code, message: status.message, details, reasonNumber };
}

function describeError(error) {
  const [bin] = error.metadata.get("grpc-status-details-bin");
  if (!bin) return { code: error.code, message: error.details, details: {} };
  return describeStatus(Status.decode(bin));
}

const serviceConfig = fs.readFileSync(path.join(root, "deploy/grpc/service_config.json"), "utf8");
const options = { "grpc.service_config": serviceConfig };
const target = `dns:///${process.env.TEXTLENS_TARGET}`;
const credentials = grpc.credentials.createInsecure();
const analyses = new v1.AnalysisService(target, credentials, options);
const batches = new v1.BatchService(target, credentials, options);

const metadata = () => {
  const m = new grpc.Metadata();
  m.set("authorization", `Bearer ${process.env.TEXTLENS_TOKEN}`);
  return m;
};
const deadline = () => ({ deadline: Date.now() + 20000 });

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata(), deadline(), (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

async function failure(client, method, request) {
  try {
    await unary(client, method, request);
  } catch (error) {
    return describeError(error);
  }
  throw new Error(`${method} succeeded where it should have failed`);
}

function analyzeStream(requests) {
  return new Promise((resolve, reject) => {
    const call = analyses.AnalyzeStream(metadata(), deadline());
    const responses = [];
    call.on("data", (response) => responses.push(response));
    call.on("error", reject);
    call.on("end", () => resolve(responses));
    for (const request of requests) call.write(request);
    call.end();
  });
}

function watchBatch(id) {
  return new Promise((resolve, reject) => {
    const call = batches.WatchBatch({ id }, metadata(), deadline());
    const snapshots = [];
    call.on("data", (batch) => snapshots.push(batch));
    call.on("error", reject);
    call.on("end", () => resolve(snapshots));
  });
}

const brief = (a) => ({ id: a.id, status: a.status, result: a.result, batch_id: a.batch_id });

async function main() {
  const report = {};
  const created = await unary(analyses, "CreateAnalysis", {
    text: "Node reads this just fine. What a pleasant contract!",
    analysis_type: "ANALYSIS_TYPE_SENTIMENT",
  });
  report.created = { ...brief(created), label: created.sentiment.label };
  report.got = brief(await unary(analyses, "GetAnalysis", { id: created.id }));
  const listed = await unary(analyses, "ListAnalyses", { page_size: 100 });
  report.listed_ids = listed.analyses.map((a) => a.id);

  const responses = await analyzeStream([
    {
      items: [
        { ref: "a", text: "Streams from Node work.", analysis_type: "ANALYSIS_TYPE_QUALITY" },
        { ref: "b", text: "   ", analysis_type: "ANALYSIS_TYPE_QUALITY" },
      ],
    },
    { items: [{ ref: "c", text: "A second message.", analysis_type: "ANALYSIS_TYPE_EMOTION" }] },
  ]);
  report.stream = responses.map((response) =>
    response.results.map((r) => ({
      ref: r.ref,
      outcome: r.outcome,
      analysis: r.analysis ? brief(r.analysis) : null,
      error: r.error ? describeStatus(r.error) : null,
    })),
  );

  const batch = await unary(batches, "CreateBatch", {
    analysis_type: "ANALYSIS_TYPE_SENTIMENT",
    texts: ["First line is great.", "Second line is awful.", "Third line is a line."],
  });
  report.batch_created = { id: batch.id, status: batch.status, total: batch.total_count };
  const snapshots = await watchBatch(batch.id);
  report.watched = snapshots.map((b) => ({
    status: b.status,
    completed: b.completed_count,
    failed: b.failed_count,
  }));
  report.batch_got = (await unary(batches, "GetBatch", { id: batch.id })).status;
  const listedBatches = await unary(batches, "ListBatches", { page_size: 100 });
  report.listed_batch_ids = listedBatches.batches.map((b) => b.id);
  const results = await unary(analyses, "ListAnalyses", { batch_id: batch.id, page_size: 100 });
  report.batch_results = results.analyses.map(brief);
  report.cancel_finished = await failure(batches, "CancelBatch", { id: batch.id });

  await unary(analyses, "DeleteAnalysis", { id: created.id });
  report.after_delete = await failure(analyses, "GetAnalysis", { id: created.id });
  report.invalid = await failure(analyses, "CreateAnalysis", {
    text: "   ",
    analysis_type: "ANALYSIS_TYPE_SENTIMENT",
  });

  analyses.close();
  batches.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
