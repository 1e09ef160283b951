import { parseArgs } from 'node:util';
import {
  type BackendPreference,
  Explainer,
  type MethodName,
  type TargetSpec,
  backendPreferences,
  defaultModelName,
  loadModel,
  parseMethodName,
  scoreCamChannelCount,
  selectBackend,
} from '@gradcam/engine';
import { type ColormapName, defaultOverlayMaxSide } from '@gradcam/imaging';
import { UsageError } from '../cli-error.ts';
import { type FileFailure, explainFiles, prepareOutputFolder, removeMadeFolders } from '../explain-files.ts';
import { type FatalError, withJsonErrorLine } from '../fatal-error.ts';
import { type InputListing, listInputFiles } from '../input-files.ts';
import { positiveInt } from '../option-values.ts';
import { printable } from '../printable.ts';
import { ProgressBar } from '../progress-bar.ts';

export const explainUsage = `Usage: gradcam explain <files or folders…> [options]

Writes, for each image, DIR/<name>/ with <method>-<class>.npy (raw map, float32),
<method>-<class>.overlay.jpg, input.preview.jpg where a browser would show the image otherwise
than the model saw it (TIFF, HEIF, animated, transparent, CMYK), and explanation.json (the
manifest). <name> is the file name
without its extension, each character other than A-Z a-z 0-9 _ . - made _; when two images
would share a folder (ignoring case) the later ones get -2, -3, …
Folders are walked for .jpg .jpeg .jpe .jfif .png .webp .gif .tif .tiff .avif .heic .heif,
leaving out earlier output (*.overlay.jpg and input.preview.jpg files, and folders below those named holding
an explanation.json that is a gradcam manifest).

Options:
  --model NAME|DIR     built-in model name or TensorFlow.js model folder (default ${defaultModelName})
  --method LIST        comma-separated: gradcam, gradcam++, xgradcam, layercam, hirescam,
                       eigencam, scorecam (default gradcam)
  --class N[,M…]       explain these class indices (default: the predicted class)
  --top-k K            explain the K highest-scoring classes (at most the model's classes)
  --layer NAME         target layer / graph node (default: found automatically)
  --batch N            images per engine call (default 8, at most 256)
  --backend NAME       auto | tensorflow-gpu | webgpu | tensorflow | wasm | cpu (default auto)
  --colormap NAME      turbo | jet | viridis (default turbo)
  --alpha A            heatmap opacity 0…1 (default 0.45)
  --overlay-max-side N longest side of an overlay in pixels; larger images are drawn scaled down
                       (default ${defaultOverlayMaxSide}, 0 = full size up to JPEG's 65,500 px)
  --score-cam-channels N  Score-CAM: most active N channels, 0 = all (default 64)
  --out DIR            output folder, made if missing (default ./gradcam-out)
  --json               print the summary as one JSON line on stdout; an error that stops the run
                       is that line too, with "error": {"code", "message"} (USAGE_ERROR, MODEL_NOT_FOUND,
                       OUTPUT_UNWRITABLE, NO_IMAGES, …), and its usual line on stderr
Exit status: 0 when at least one image was explained, 1 when none was or when the output
could not be written (disk full, quota, read-only: the run stops there), 2 on a usage error.`;

const maxBatchSize = 256;

function parseTargets(classes: string | undefined, topK: string | undefined): TargetSpec {
  if (classes !== undefined && topK !== undefined) throw new UsageError('--class and --top-k cannot be used together');
  if (topK !== undefined) return { kind: 'topK', k: positiveInt('top-k', topK, 1) };
  if (classes === undefined) return { kind: 'predicted' };
  const list = classes.split(',').map((c) => c.trim());
  if (list.some((c) => !/^\d+$/.test(c))) throw new UsageError(`--class takes class indices such as 0 or 2,4; got "${classes}"`);
  return { kind: 'classes', classes: list.map(Number) };
}

function parseMethods(value: string | undefined): MethodName[] {
  if (value === undefined) return ['gradcam'];
  try {
    return [...new Set(value.split(',').map((m) => parseMethodName(m.trim().toLowerCase())))];
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseChoice<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${name} must be one of ${choices.join(', ')}; got "${value}"`);
}

/** What a run knows before it explains anything: in the `--json` line of a run stopped by an error. */
interface RunSoFar {
  outDir: string | null;
  failures: FileFailure[];
  skipped: InputListing['skipped'];
}

/** The `--json` summary of a run that explained nothing: the listing's failures, and why it stopped when it did. */
function emptySummary(soFar: RunSoFar, error: FatalError) {
  const { outDir, failures, skipped } = soFar;
  return { explained: 0, failed: failures.length, seconds: 0, imagesPerSecond: 0, outDir, model: null, backend: null, failures, stopped: null, skipped, error };
}

/**
 * `gradcam explain`. With --json, stdout gets one JSON line however the run ends: the summary, or,
 * when an error stops it (a usage error, an unknown model, an --out it cannot write), the same
 * shape with `error: { code, message }` (stable codes: USAGE_ERROR, CONFIG_INVALID,
 * OUTPUT_UNWRITABLE, NO_IMAGES, the engine's and imaging's, an errno, INTERNAL). The human line on
 * stderr and the exit status are as without --json.
 */
export async function explainCommand(argv: readonly string[]): Promise<number> {
  const soFar: RunSoFar = { outDir: null, failures: [], skipped: { outputFolders: [], overlays: 0 } };
  return withJsonErrorLine(argv, () => explain(argv, soFar), (error) => emptySummary(soFar, error));
}

async function explain(argv: readonly string[], soFar: RunSoFar): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      method: { type: 'string' },
      class: { type: 'string' },
      'top-k': { type: 'string' },
      layer: { type: 'string' },
      batch: { type: 'string' },
      backend: { type: 'string' },
      colormap: { type: 'string' },
      alpha: { type: 'string' },
      'overlay-max-side': { type: 'string' },
      'score-cam-channels': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(explainUsage);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('name at least one image file or folder, e.g. gradcam explain test/fixtures/images');
  const methods = parseMethods(values.method);
  const targets = parseTargets(values.class, values['top-k']);
  const batchSize = positiveInt('batch', values.batch, 8);
  // The worker's GRADCAM_BATCH_SIZE bound: a batch's images are decoded and held together.
  if (batchSize > maxBatchSize) throw new UsageError(`--batch must be at most ${maxBatchSize} (images per engine call, decoded together), got "${values.batch}"`);
  const backendPreference = parseChoice<BackendPreference>('backend', values.backend, backendPreferences, 'auto');
  const colormap = parseChoice<ColormapName>('colormap', values.colormap, ['turbo', 'jet', 'viridis'], 'turbo');
  const alpha = values.alpha === undefined ? 0.45 : /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(values.alpha) ? Number(values.alpha) : Number.NaN;
  if (!(alpha >= 0 && alpha <= 1)) throw new UsageError(`--alpha must be between 0 and 1, got "${values.alpha}"`);
  const overlayMaxSide = positiveInt('overlay-max-side', values['overlay-max-side'], defaultOverlayMaxSide, true);
  const scoreCamChannels = positiveInt('score-cam-channels', values['score-cam-channels'], 64, true);
  const outDir = values.out ?? 'gradcam-out';
  // '' would write into the current folder, under a summary that says "→ /".
  if (outDir === '') throw new UsageError('--out must name a folder, got ""');
  soFar.outDir = outDir;

  const quiet = values.json === true;
  const { files, missing, excluded, skipped } = await listInputFiles(positionals, { exclude: [outDir] });
  const listingFailures = missing.map((m) => ({ file: m.path, code: m.code, message: m.message }));
  soFar.failures = listingFailures;
  soFar.skipped = skipped;
  for (const m of missing) console.error(`✗ ${printable(m.path)}: ${m.reason}`);
  // Its overlays would be explained again on every run: say so, rather than find "no images".
  for (const path of excluded) console.error(`✗ ${printable(path)}: skipped: it is the output folder (--out ${outDir}); give another --out, or name its images one by one`);
  const skippedAny = skipped.outputFolders.length + skipped.overlays > 0;
  if (skippedAny) {
    const folders = skipped.outputFolders.map(printable);
    const shown = folders.length > 3 ? `${folders.slice(0, 3).join(', ')} and ${folders.length - 3} more` : folders.join(', ');
    console.error(`skipped earlier output: ${folders.length} folder(s) holding a gradcam explanation.json${shown && ` (${shown})`}, ${skipped.overlays} *.overlay.jpg or input.preview.jpg file(s)`);
  }
  if (files.length === 0) {
    const why = excluded.length > 0 ? ' (the output folder is never read as input)' : skippedAny ? ' (earlier explain output is never read as input)' : '';
    const message = `no images found in the given paths${why}`;
    console.error(`gradcam explain: ${message}`);
    // --json promises one summary on stdout; a script reading it gets the failures here too.
    if (quiet) console.log(JSON.stringify(emptySummary(soFar, { code: 'NO_IMAGES', message })));
    return 1;
  }

  const made = await prepareOutputFolder(outDir);
  let explained = 0;
  /** The progress bar once drawn: cleared however the run ends (a Ctrl-C or an error must not print onto it). */
  let drawnBar: ProgressBar | undefined;
  try {
    const backend = await selectBackend(backendPreference);
    const model = await loadModel(values.model ?? defaultModelName, { targetLayer: values.layer });
    if (targets.kind === 'classes') {
      const bad = targets.classes.find((c) => c >= model.runner.numClasses);
      if (bad !== undefined) throw new UsageError(`--class ${bad} is out of range: ${model.descriptor.name} has classes 0…${model.runner.numClasses - 1}`);
    }
    if (targets.kind === 'topK' && targets.k > model.runner.numClasses) {
      throw new UsageError(`--top-k ${targets.k} is more than the ${model.runner.numClasses} classes of ${model.descriptor.name}`);
    }
    const explainer = new Explainer(model);
    if (!quiet) {
      console.error(
        `${model.descriptor.name} ${model.descriptor.version} on ${backend.name}, target ${model.runner.targetLayer} ${model.runner.targetShape.join('×')}; ${files.length} image(s), batch ${batchSize}, ${methods.join(', ')}`,
      );
      // Its first batch can take tens of seconds on a CPU: say why nothing seems to move.
      if (methods.includes('scorecam')) {
        const copies = scoreCamChannelCount(scoreCamChannels, model.runner.targetShape.at(-1) ?? 0);
        console.error(`Score-CAM runs the model on ${copies} masked copies of each image: seconds per image on a CPU backend`);
      }
    }
    const progress = new ProgressBar(files.length);
    drawnBar = progress;
    // Drawn at once (on a TTY), not only when the first batch is done.
    progress.tick(0, 0);
    const result = await explainFiles({
      explainer,
      backend,
      files,
      outDir,
      batchSize,
      explain: { methods, targets, scoreCam: { maxChannels: scoreCamChannels } },
      overlay: { colormap, alpha },
      overlayMaxSide,
      onBatch: (succeeded, failed) => {
        progress.clear();
        for (const f of failed) console.error(`✗ ${printable(f.file)}: ${f.code}: ${f.message}`);
        progress.tick(succeeded, failed.length);
      },
    });
    progress.clear();
    const failures = [...listingFailures, ...result.failures];
    const summary = {
      explained: result.written.length,
      failed: failures.length,
      seconds: Number(result.seconds.toFixed(2)),
      imagesPerSecond: Number((result.written.length / Math.max(result.seconds, 1e-9)).toFixed(2)),
      outDir,
      model: model.descriptor.name,
      backend: backend.name,
      failures,
      stopped: result.stopped && { code: result.stopped.code, message: result.stopped.message, notWritten: files.length - result.written.length - result.failures.length },
      /** Earlier output a walk left out: the folders holding a manifest, and how many overlays. */
      skipped,
      /** What stopped the run before it explained anything (see explainCommand); null for a run that went through. */
      error: null,
    };
    if (summary.stopped) {
      console.error(
        `gradcam explain: stopped: the output folder takes no more (${summary.stopped.code}: ${summary.stopped.message}); ${summary.stopped.notWritten} image(s) not written`,
      );
    }
    if (quiet) console.log(JSON.stringify(summary));
    else {
      console.log(
        // With nothing written the folders this run made are removed below: point at no folder.
        summary.explained > 0
          ? `${summary.explained} explained, ${summary.failed} failed in ${summary.seconds}s (${summary.imagesPerSecond} images/s) → ${outDir}/`
          : `0 explained, ${summary.failed} failed in ${summary.seconds}s, nothing written`,
      );
    }
    explained = result.written.length;
    return result.written.length > 0 && !result.stopped ? 0 : 1;
  } finally {
    drawnBar?.clear();
    // An unknown --model, an unavailable backend, a --class or --top-k out of the model's range
    // (known only once it loads), or no image written: the folders this run made stay empty.
    if (explained === 0) await removeMadeFolders(made);
  }
}
