import type pg from 'pg';
import { connect } from '../connection.js';
import { importSnapshot } from '../copy.js';
import { quoteLiteral } from '../sql.js';
import type { Run } from './context.js';

/** A session on the new database, with the pg_dump session settings it currently has. */
export interface TargetSession {
  client: pg.Client;
  settings: Map<string, string>;
}

export type Connect = typeof connect;

/**
 * Every session a run holds: the source's admin session (freeze), the target server's maintenance session
 * (CREATE/DROP/ALTER DATABASE), the source session that exports the snapshot and keeps it (and the tables'
 * locks) alive, and the two pools of `parallel` workers: source sessions on the snapshot, sessions on the
 * new database. Worker `w` uses `source[w]` and `target[w]`.
 */
export class Sessions {
  sourceAdmin?: pg.Client;
  maintenance?: pg.Client;
  exporter?: pg.Client;
  source: pg.Client[] = [];
  target: TargetSession[] = [];

  constructor(
    private readonly run: Run,
    private readonly connectTo: Connect = connect,
  ) {}

  /** A new session of the source (the caller ends it). */
  connectSource(): Promise<pg.Client> {
    return this.connectTo(this.run.options.source, { secrets: this.run.secrets });
  }

  /** A new session of the new database (the caller ends it). */
  connectNew(): Promise<pg.Client> {
    return this.connectTo(this.run.options.target, { database: this.run.names.fresh, secrets: this.run.secrets });
  }

  /** The source's admin session, then the maintenance session of the target's server. */
  async openAdmin(): Promise<{ sourceAdmin: pg.Client; maintenance: pg.Client }> {
    const { target, maintenanceDatabase } = this.run.options;
    this.sourceAdmin = await this.connectSource();
    this.maintenance = await this.connectTo(target, { database: maintenanceDatabase, secrets: this.run.secrets });
    return { sourceAdmin: this.sourceAdmin, maintenance: this.maintenance };
  }

  async openExporter(): Promise<pg.Client> {
    this.exporter = await this.connectSource();
    return this.exporter;
  }

  /** Up to `parallel` source sessions, each joined to the snapshot. */
  async openSource(snapshotId: string): Promise<void> {
    while (this.source.length < this.run.options.parallel) {
      const client = await this.connectSource();
      this.source.push(client);
      await importSnapshot(client, snapshotId);
    }
  }

  /** Up to `parallel` sessions on the new database (again after `closeTarget`). */
  async openTarget(): Promise<void> {
    while (this.target.length < this.run.options.parallel) {
      const client = await this.connectNew();
      const session = { client, settings: new Map<string, string>() };
      this.target.push(session);
      await this.loadSettings(session);
    }
  }

  /** Settings of the sessions that load the new database: it is thrown away if the server crashes meanwhile. */
  private async loadSettings(session: TargetSession): Promise<void> {
    await session.client.query(
      `SET synchronous_commit = off; SET maintenance_work_mem = ${quoteLiteral(this.run.options.maintenanceWorkMem)}`,
    );
    session.settings = new Map();
  }

  async closeTarget(): Promise<void> {
    const sessions = this.target;
    this.target = [];
    await Promise.all(sessions.map((session) => session.client.end().catch(() => {})));
  }

  /** The source pool and the exporter: the snapshot and the tables' locks go with it. */
  async closeSource(): Promise<void> {
    const sessions = [...this.source, ...(this.exporter ? [this.exporter] : [])];
    this.source = [];
    this.exporter = undefined;
    await Promise.all(sessions.map((client) => client.end().catch(() => {})));
  }

  /** Both pools and the exporter: whatever query or stream was running on them fails at once. */
  async closeWorkers(): Promise<void> {
    await Promise.all([this.closeTarget(), this.closeSource()]);
  }

  /** The admin and maintenance sessions, last. */
  async closeAdmin(): Promise<void> {
    await Promise.all(
      [this.sourceAdmin, this.maintenance].map((client) => client?.end().catch(() => {}) ?? Promise.resolve()),
    );
  }
}
