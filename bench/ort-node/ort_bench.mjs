// ort_bench.mjs - ONNX Runtime's CPU provider (onnxruntime-node from npm) timing one model the way
// `onyx bench MODEL --provider cpu` does: token ids random below --max-id, attention masks ones,
// token type ids zeros, float inputs zeros; symbolic dims from --dim NAME=VALUE (default 1 for
// batch, 8 for sequences, 0 for past lengths). Prints the median and mean latency in ms.
//
//   node bench/ort-node/ort_bench.mjs MODEL [--threads N] [--runs N] [--warmup N] [--dim NAME=VALUE]...
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const model = args[0];
let threads = 0, runs = 50, warmup = 5, maxId = 1000;
const dims = {};
for (let i = 1; i < args.length; i++) {
  const [flag, value] = args[i].includes('=') && args[i].startsWith('--') && !args[i].startsWith('--dim=')
    ? args[i].split('=') : [args[i], args[i + 1]];
  if (!args[i].includes('=') || args[i].startsWith('--dim=')) i++;
  if (flag === '--threads') threads = +value;
  else if (flag === '--runs') runs = +value;
  else if (flag === '--warmup') warmup = +value;
  else if (flag === '--max-id') maxId = +value;
  else if (flag === '--dim' || flag.startsWith('--dim=')) {
    const spec = flag.startsWith('--dim=') ? flag.slice(6) : value;
    const [k, v] = spec.split('=');
    dims[k] = +v;
  } else throw new Error(`unknown argument ${flag}`);
}
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
});
function dimValue(d) {
  if (typeof d === 'number' && d >= 0) return d;
  if (d in dims) return dims[d];
  if (/past/.test(d)) return 0;
  if (/batch/.test(d)) return 1;
  return /sequence|length/.test(d) ? 8 : 1;
}
const feeds = {};
let seed = 12345;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (const name of session.inputNames) {
  const meta = session.inputMetadata.find((m) => m.name === name);
  const shape = meta.shape.map((d) => dimValue(d));
  const n = shape.reduce((x, y) => x * y, 1);
  if (meta.type === 'int64') {
    const data = new BigInt64Array(n);
    for (let i = 0; i < n; i++)
      data[i] = BigInt(/mask/.test(name) ? 1 : /ids/.test(name) && !/type|position/.test(name) ? Math.floor(random() * maxId) : 0);
    feeds[name] = new ort.Tensor('int64', data, shape);
  } else {
    feeds[name] = new ort.Tensor('float32', new Float32Array(n), shape);
  }
}
for (let i = 0; i < warmup; i++) await session.run(feeds);
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((x, y) => x - y);
const mean = times.reduce((x, y) => x + y, 0) / runs;
console.log(`${model},ort-cpu,${threads},${times[Math.floor(runs / 2)].toFixed(4)},${mean.toFixed(4)}`);
