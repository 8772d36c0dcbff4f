/**
 * Mocha root setup. WebGPU tests need a Vulkan driver: on a machine without a GPU that is
 * Mesa's lavapipe (installed by .ci/setup-system). Point the loader at it unless the caller
 * chose a driver, and keep test feature caches out of the user's ~/.cache.
 *
 * Every temporary file of the run (tests, the zoo children and python they start) goes under
 * one private folder, TMPDIR=<system tmp>/brainzoo-test-<pid>-XXXX, removed after the last
 * test: a run leaves nothing in the system temp folder (a killed run leaves that one folder).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const systemTmp = tmpdir();
export const TEST_TMP = mkdtempSync(join(systemTmp, `brainzoo-test-${process.pid}-`));
// os.tmpdir() reads TMPDIR on every call (and children inherit it).
process.env.TMPDIR = TEST_TMP;
process.env.TMP = TEST_TMP;
process.env.TEMP = TEST_TMP;

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(LAVAPIPE)) process.env.VK_ICD_FILENAMES = LAVAPIPE;
if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(join(TEST_TMP, 'xdg-'));
if (!process.env.BRAINZOO_CACHE) process.env.BRAINZOO_CACHE = mkdtempSync(join(TEST_TMP, 'brainzoo-test-cache-'));

/** Root hooks (mocha loads them from this --require module). */
export const mochaHooks = {
  afterAll(): void {
    rmSync(TEST_TMP, { recursive: true, force: true });
    assert.ok(!existsSync(TEST_TMP), `the test run's temp folder ${TEST_TMP} could not be removed`);
  },
};
