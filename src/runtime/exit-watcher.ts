/**
 * Learns container exits from the files conmon writes atomically into the exit dir (a temp name,
 * then a rename to the container id). inotify reports the rename; a scan after the watch is set
 * up covers exits that happened before (or while the daemon was down). The callback may see an
 * id twice: consumers are idempotent.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

const ID = /^[a-f0-9]{64}$/;

export class ExitWatcher {
  private watcher: fs.FSWatcher | undefined;

  constructor(
    private readonly dir: string,
    private readonly onExit: (id: string, code: number) => void,
  ) {}

  start(): void {
    this.watcher = fs.watch(this.dir, (_event, name) => {
      if (name && ID.test(name)) this.check(name);
    });
    this.watcher.on('error', () => {});
    this.scan();
  }

  scan(): void {
    for (const name of fs.readdirSync(this.dir)) if (ID.test(name)) this.check(name);
  }

  stop(): void {
    this.watcher?.close();
  }

  private check(id: string): void {
    let text: string;
    try {
      text = fs.readFileSync(join(this.dir, id), 'utf8').trim();
    } catch {
      return; // removed already
    }
    if (text !== '') this.onExit(id, Number(text));
  }
}
