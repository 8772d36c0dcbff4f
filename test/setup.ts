/**
 * Mocha root setup. WebGPU tests need a Vulkan driver: on a machine without a GPU that is
 * Mesa's lavapipe (installed by .ci/setup-system). Point the loader at it unless the caller
 * chose a driver, and keep test feature caches out of the user's ~/.cache.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(LAVAPIPE)) process.env.VK_ICD_FILENAMES = LAVAPIPE;
if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'xdg-'));
if (!process.env.BRAINZOO_CACHE) process.env.BRAINZOO_CACHE = mkdtempSync(join(tmpdir(), 'brainzoo-test-cache-'));
