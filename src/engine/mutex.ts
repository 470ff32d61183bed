/** Runs async sections one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn);
    // The chain continues whether or not this section failed.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
