import { closeSync, fstatSync, openSync, readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

/**
 * How the file's content came to change. `replaced`: another file now stands at the path (a
 * rename over it, a ConfigMap's `..data` symlink swap), written whole before it got there.
 * `written_in_place`: the same file was written again, so what was read may be the first half
 * of a write still going on (a writer paused before its last line, a truncation).
 */
export type ConfigFileChange = 'replaced' | 'written_in_place';

/** Editors and the kubelet change a directory in bursts of events; one look follows the last of them. */
const QUIET_MS = 100;

/**
 * Calls `onChange` when the file's content changes. It watches directories, not the file: an
 * editor's save-by-rename and a Kubernetes ConfigMap update (the kubelet writes a new
 * timestamped directory and renames the `..data` symlink over the old one) replace the file
 * rather than write to it, and a watch on the old file would never fire again. Both the
 * directory of the path as given and the one its symlinks lead to are watched, re-resolved after
 * every change. Content is compared, so events that change nothing (touch, chmod) report
 * nothing; the file's identity (device and inode, symlinks followed) tells a replacement from a
 * write in place, since no event says when a writer in place is done.
 */
export function watchConfigFile(path: string, onChange: (change: ConfigFileChange) => void): ConfigWatcher {
  let watchers = new Map<string, FSWatcher>();
  let last = snapshotOf(path);
  /** The content last seen was written in place and so not applied: a replacement bringing the same content must be. */
  let unappliedInPlace = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const look = () => {
    timer = undefined;
    if (closed) return;
    rewatch();
    const now = snapshotOf(path);
    const replaced = now.identity !== last.identity;
    const changed = now.content !== last.content;
    last = now;
    if (replaced && (changed || unappliedInPlace)) {
      unappliedInPlace = false;
      onChange('replaced');
    } else if (changed) {
      unappliedInPlace = true;
      onChange('written_in_place');
    }
  };
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(look, QUIET_MS);
  };
  const rewatch = () => {
    const wanted = new Set([dirname(path), dirname(resolved(path))]);
    const kept = new Map<string, FSWatcher>();
    for (const [directory, watcher] of watchers) {
      if (wanted.has(directory)) kept.set(directory, watcher);
      else watcher.close();
    }
    for (const directory of wanted) {
      if (kept.has(directory)) continue;
      try {
        const watcher = watch(directory, { persistent: false }, poke);
        // A watched directory that disappears (an old ConfigMap generation) just stops being watched.
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(directory);
        });
        kept.set(directory, watcher);
      } catch {
        // Gone already: the other directory still sees the swap.
      }
    }
    watchers = kept;
  };

  rewatch();
  return {
    close: () => {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
    },
  };
}

function resolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

interface Snapshot {
  /** Device and inode of the file the path leads to; undefined when there is none. */
  identity: string | undefined;
  /** Its text; undefined when unreadable, so that its coming back counts as a change. */
  content: string | undefined;
}

/**
 * Identity and content read through one descriptor, so a rename in between cannot pair one file's
 * inode with another's text.
 */
function snapshotOf(path: string): Snapshot {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { identity: undefined, content: undefined };
  }
  try {
    const { dev, ino } = fstatSync(fd);
    return { identity: `${dev}:${ino}`, content: readFileSync(fd, 'utf8') };
  } catch {
    return { identity: undefined, content: undefined };
  } finally {
    closeSync(fd);
  }
}
