// Runs a TF.js graph model with TensorFlow.js itself (pure JavaScript CPU backend): the reference that
// vstream_ros/backends/lite/tfjs.py is compared with (tests/test_detector_reference.py).
//
//   node tfjs_reference.js MODEL.json INPUTS.bin N C H W OUT_DIR
//
// INPUTS.bin holds N float32 tensors [1, C, H, W] one after the other (what the graph's input takes). For
// each, every output of the graph's signature is written raw (float32, little-endian) to
// OUT_DIR/<i>_<output name with ':' as '_'>.bin, and OUT_DIR/outputs.json lists names and shapes, plus the
// milliseconds each execution took. NODE_PATH must reach @tensorflow/tfjs-core, -backend-cpu, -converter.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

async function main() {
  const [modelJson, inputsBin, n, c, h, w, outDir] = process.argv.slice(2);
  const shape = [1, Number(c), Number(h), Number(w)];
  await tf.setBackend('cpu');
  const spec = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const folder = path.dirname(modelJson);
  const weightSpecs = [];
  const buffers = [];
  for (const group of spec.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(folder, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  // the converter writes the signature at the top or (blazeface.json) in userDefinedMetadata
  const signature = spec.signature || (spec.userDefinedMetadata || {}).signature;
  const model = await converter.loadGraphModel(tf.io.fromMemory({
    modelTopology: spec.modelTopology, weightSpecs, weightData, format: spec.format,
    generatedBy: spec.generatedBy, convertedBy: spec.convertedBy, signature,
  }));
  // outputs by node name ("Identity_1:0"), whatever the signature's keys are ("output_faceflag")
  const names = Object.entries(signature.outputs).map(([key, o]) => o.name || key).sort();
  const raw = fs.readFileSync(inputsBin);
  const size = shape.reduce((a, b) => a * b, 1);
  const doc = { backend: tf.getBackend(), version: tf.version_core, outputs: {}, ms: [] };
  for (let i = 0; i < Number(n); i++) {
    const data = new Float32Array(raw.buffer.slice(raw.byteOffset + i * size * 4, raw.byteOffset + (i + 1) * size * 4));
    const x = tf.tensor(data, shape, 'float32');
    const t0 = process.hrtime.bigint();
    const res = model.execute(x, names);
    const outs = Array.isArray(res) ? res : [res];     // a graph with one output gives a tensor
    const values = await Promise.all(outs.map((o) => o.data()));
    doc.ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    names.forEach((name, k) => {
      doc.outputs[name] = outs[k].shape;
      fs.writeFileSync(path.join(outDir, `${i}_${name.replace(/:/g, '_')}.bin`), Buffer.from(values[k].buffer));
    });
    tf.dispose([x, ...outs]);
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(doc));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
