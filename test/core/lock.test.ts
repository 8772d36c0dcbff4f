/** The file lock shared by machines of one file system: held while its owner lives or refreshes it. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FileLock } from '../../harness/core/lock.js';
import { tempDir } from '../helpers.js';

/** A pid that is certainly dead: a child that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

describe('core: file lock across machines', () => {
  it('one holder at a time; released, it can be taken again', () => {
    const path = join(tempDir('lock'), 'entry.lock');
    const first = FileLock.tryAcquire(path);
    assert.ok(first.ok);
    const owner = JSON.parse(readFileSync(path, 'utf8')) as { host: string; pid: number };
    assert.deepEqual([owner.host, owner.pid], [hostname(), process.pid]);
    const second = FileLock.tryAcquire(path);
    assert.equal(second.ok, false, 'held by a live process (this one)');
    if (first.ok) first.lock.release();
    assert.equal(existsSync(path), false);
    assert.ok(FileLock.tryAcquire(path).ok);
  });

  it('takes over a lock of a dead process on this host, and an old-format bare-pid lock', () => {
    const dir = tempDir('lock-dead');
    const path = join(dir, 'a.lock');
    writeFileSync(path, JSON.stringify({ host: hostname(), pid: deadPid(), since: '' }));
    assert.ok(FileLock.tryAcquire(path).ok);
    const old = join(dir, 'b.lock');
    writeFileSync(old, String(deadPid()));
    assert.ok(FileLock.tryAcquire(old).ok);
  });

  it('on another host a pid means nothing: held while refreshed, taken over after the stale time', () => {
    const path = join(tempDir('lock-remote'), 'entry.lock');
    // Another node's owner, with a pid that is dead here (it must not matter).
    writeFileSync(path, JSON.stringify({ host: 'node042.cluster', pid: deadPid(), since: new Date().toISOString() }));
    const fresh = FileLock.tryAcquire(path, { staleMs: 60_000 });
    assert.equal(fresh.ok, false, 'recently refreshed by its owner on another host');
    if (!fresh.ok) assert.equal(fresh.owner.host, 'node042.cluster');
    const past = new Date(Date.now() - 120_000);
    utimesSync(path, past, past);
    const stale = FileLock.tryAcquire(path, { staleMs: 60_000 });
    assert.ok(stale.ok, 'no refresh for longer than the stale time: abandoned');
  });

  it('refresh keeps a held lock young', () => {
    const path = join(tempDir('lock-refresh'), 'entry.lock');
    const got = FileLock.tryAcquire(path);
    assert.ok(got.ok);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(path, past, past);
    if (got.ok) got.lock.refresh();
    assert.ok(Date.now() - statSync(path).mtimeMs < 10_000);
  });
});

