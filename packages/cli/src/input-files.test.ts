import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listInputFiles } from './input-files.ts';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));

test('folders are walked through symbolic links to images and folders, each once, and a link loop ends', async () => {
  const root = await mkdtemp(join(tmpdir(), 'gradcam-links-'));
  const input = join(root, 'in');
  await mkdir(input);
  await mkdir(join(root, 'elsewhere', 'more'), { recursive: true });
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'real.jpg'));
  await copyFile(join(fixtures, 'sheep-pastoral.jpg'), join(root, 'elsewhere', 'sheep.jpg'));
  await copyFile(join(fixtures, 'people-group.jpg'), join(root, 'elsewhere', 'more', 'people.jpg'));
  await symlink(join(root, 'elsewhere', 'sheep.jpg'), join(input, 'linked.jpg'));
  await symlink(join(root, 'elsewhere', 'more'), join(input, 'linked-folder'));
  await symlink(input, join(input, 'loop'));
  await symlink(join(input, 'real.jpg'), join(input, 'same-as-real.jpg'));
  await symlink(join(root, 'nowhere.jpg'), join(input, 'dangling.jpg'));

  const listing = await listInputFiles([input, join(input, 'real.jpg')]);
  assert.deepEqual(listing.files, [join(input, 'linked-folder', 'people.jpg'), join(input, 'linked.jpg'), join(input, 'real.jpg')]);
  assert.deepEqual(listing.missing, [{ path: join(input, 'dangling.jpg'), reason: 'broken symbolic link' }]);
});

test('an excluded folder (explain --out) is skipped wherever the walk meets it, however it is reached', async () => {
  const input = await mkdtemp(join(tmpdir(), 'gradcam-exclude-'));
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'cat.jpg'));
  await mkdir(join(input, 'out', 'cat'), { recursive: true });
  await copyFile(join(fixtures, 'house-cat-locomotion.jpg'), join(input, 'out', 'cat', 'gradcam-0.overlay.jpg'));
  await symlink(join(input, 'out'), join(input, 'out-link'));
  const listing = await listInputFiles([input], { exclude: [join(input, 'out', '.')] });
  assert.deepEqual(listing.files, [join(input, 'cat.jpg')]);
  assert.deepEqual(listing.excluded, [], 'met in a walk, not named');
  const named = await listInputFiles([join(input, 'out')], { exclude: [join(input, 'out')] });
  assert.deepEqual(named.files, []);
  assert.deepEqual(named.excluded, [join(input, 'out')], 'named, and left out: the caller can say so');
});
