import { parseArgs } from 'node:util';
import { shortWeightsSha256 } from '@gradcam/contracts';
import { builtinModels, defaultModelName, loadModel, selectBackend } from '@gradcam/engine';
import { withJsonErrorLine } from '../fatal-error.ts';

export const modelsUsage = `Usage: gradcam models [--json]

Lists the built-in models (their weights ship in npm packages) with the sha256 of their weights (the
manifests' model.weightsSha256; a version is a label) and the target layer found in each.
--json prints one JSON line per model (weightsSha256 in full); an error that stops the listing is one line
{"error": {"code", "message"}} (USAGE_ERROR, the engine's codes, …), with its usual line on stderr.`;

/** `gradcam models`. With --json, an error that stops it (a usage error, a model that fails to load) is one JSON line too: `{"error": {"code", "message"}}`. */
export function modelsCommand(argv: readonly string[]): Promise<number> {
  return withJsonErrorLine(argv, () => listModels(argv));
}

async function listModels(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(modelsUsage);
    return 0;
  }
  await selectBackend('auto');
  const rows = [];
  for (const { descriptor } of builtinModels) {
    const model = await loadModel(descriptor.name);
    const { preprocessing: p } = descriptor;
    rows.push({
      name: descriptor.name,
      default: descriptor.name === defaultModelName,
      version: descriptor.version,
      weightsSha256: model.weightsSha256,
      format: descriptor.format,
      input: `${p.width}×${p.height}`,
      classes: descriptor.labels.join(','),
      targetLayer: model.runner.targetLayer,
      targetShape: model.runner.targetShape.join('×'),
      description: descriptor.description ?? '',
    });
    model.runner.dispose();
  }
  if (values.json) {
    for (const row of rows) console.log(JSON.stringify(row));
    return 0;
  }
  for (const row of rows) {
    console.log(`${row.name}${row.default ? ' (default)' : ''}  ${row.version} (weights ${shortWeightsSha256(row.weightsSha256)})  ${row.format}  input ${row.input}`);
    console.log(`  ${row.description}`);
    console.log(`  classes: ${row.classes}`);
    console.log(`  target:  ${row.targetLayer} [${row.targetShape}]`);
  }
  return 0;
}
