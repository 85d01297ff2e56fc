import { readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

/** Editors and kubectl write a file in bursts of events; one reload follows the last of them. */
const DEBOUNCE_MS = 300;

/**
 * Calls `onChange` when the file's content changes. It watches directories, not the file: an
 * editor's save-by-rename and a Kubernetes ConfigMap update (the kubelet writes a new
 * timestamped directory and renames the `..data` symlink over the old one) replace the file
 * rather than write to it, and a watch on the old file would never fire again. Both the
 * directory of the path as given and the one its symlinks lead to are watched, re-resolved after
 * every change. Content is compared, so events that change nothing (touch, chmod) reload nothing.
 */
export function watchConfigFile(path: string, onChange: () => void): ConfigWatcher {
  let watchers = new Map<string, FSWatcher>();
  let last = contentOf(path);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const settle = () => {
    timer = undefined;
    if (closed) return;
    rewatch();
    const now = contentOf(path);
    if (now === last) return;
    last = now;
    onChange();
  };
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(settle, DEBOUNCE_MS);
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

/** The file's text, or a marker for "unreadable" so that its coming back counts as a change. */
function contentOf(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
