/** A call whose receive timer may wait until the event loop's current turn is over. */
export interface DeferredTimer {
  /** Arms the timer, unless the call no longer needs one. */
  arm(): void;
}

/**
 * Envoy writes a Check's HEADERS and its message together, so a call's message is nearly always
 * in before the event loop's turn ends: a receive timer set at HEADERS would be cleared a few
 * microseconds later, a Timeout and a timer-list insertion per call for nothing. The calls begun
 * in one turn are armed together after it instead (one setImmediate for all of them, run after
 * the I/O that delivered their DATA), and only those still receiving set a timer, counted from
 * their HEADERS.
 */
export class DeferredTimers {
  private due: DeferredTimer[] = [];

  defer(timer: DeferredTimer): void {
    if (this.due.length === 0) setImmediate(this.armDue);
    this.due.push(timer);
  }

  private readonly armDue = (): void => {
    const due = this.due;
    this.due = [];
    for (const timer of due) timer.arm();
  };
}
