/** Wraps `action` so it runs at most once per `intervalMs`; for warnings that would flood logs. */
export function oncePer(intervalMs: number, action: () => void, now: () => number = Date.now): () => void {
  let last = -Infinity;
  return () => {
    const time = now();
    if (time - last < intervalMs) return;
    last = time;
    action();
  };
}
