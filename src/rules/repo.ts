import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AllocateRequest } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import { storeKeys } from '../store/keys.js';
import type { Store } from '../store/types.js';
import type { FailMode, PlanFacts, RuleEngine, RuleEvaluation, RuleSnapshot, RulesetVersion } from './engine.js';
import { orderFacts } from './input.js';
import { noEffects, resolve, type RuleEffects } from './resolve.js';
import type { JdmGraph } from './validate.js';

/**
 * Ruleset versions in the state store (issue 20, item 3): every version is a record of its own;
 * a ruleset's active version is one value holding the graph that was validated and tested, so
 * activation swaps it in one write (atomic on every store) and a draft edited afterwards cannot
 * change what runs. States: DRAFT (never activated), ACTIVE (the version the active value holds),
 * INACTIVE (activated once, since replaced). Rollback activates an older version again. Every
 * change is in the ruleset's audit trail (who: the API key id, what, when). Every activation bumps
 * the rules epoch; each instance polls it every RULES_POLL_MS and reloads when it moved, so a new
 * version is in force everywhere within that time (the instance that activated reloads at once).
 */

export interface RuleTest {
  name: string;
  /** A sample order, as the ERP would send it. */
  order: AllocateRequest;
  /** The plan facts for tables that read plan.* (absent: those tables do not run). */
  plan?: PlanFacts;
  /** The action codes the rules must fire and apply, in any order (an empty list: none). */
  expect: { actions: string[] };
}

export interface VersionRecord {
  ruleset: string;
  version: number;
  name: string;
  description: string;
  failMode: FailMode;
  graph: JdmGraph;
  tests: RuleTest[];
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  updatedBy: string;
  /** When it was first activated (epoch ms); null while it is a draft. */
  activatedAt: number | null;
}

export interface ActiveRecord extends RulesetVersion {
  activatedAt: number;
  activatedBy: string;
}

export interface AuditEntry {
  at: number;
  /** The API key id of who did it ('system' for the bundled rules loaded at start-up). */
  by: string;
  what: 'create' | 'draft' | 'update' | 'activate' | 'rollback';
  version: number;
  /** For an activation: the version it replaced (null when none was active). */
  previous?: number | null;
}

export type VersionState = 'draft' | 'active' | 'inactive';

export interface DraftInput {
  name: string;
  description?: string;
  failMode: FailMode;
  graph: unknown;
  tests?: RuleTest[];
}

export interface TestResult {
  name: string;
  passed: boolean;
  expected: string[];
  got: string[];
  failed: RuleEvaluation['failed'];
  error?: string;
}

export interface DryRun {
  evaluation: RuleEvaluation;
  effects: RuleEffects;
}

export const RULESET_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

export class RulesRepo {
  private epoch = -1;
  private timer: NodeJS.Timeout | undefined;
  /** Active versions that failed to load (a graph this build refuses), by ruleset id: shown, not run. */
  loadErrors: Record<string, string> = {};

  constructor(
    private readonly store: Store,
    readonly engine: RuleEngine,
    private readonly net: NetworkContext,
    private readonly clock: () => number,
    private readonly tzMinutes: number,
  ) {}

  async ids(): Promise<string[]> {
    return [...new Set(await this.store.listAll<string>(storeKeys.rulesetIndex))].sort();
  }

  async active(id: string): Promise<ActiveRecord | null> {
    return this.store.kvGet<ActiveRecord>(storeKeys.rulesetActive(id));
  }

  async version(id: string, version: number): Promise<VersionRecord> {
    const v = await this.store.kvGet<VersionRecord>(storeKeys.rulesetVersion(id, version));
    if (!v) throw new DspError('DSP_RULESET_NOT_FOUND', `no version ${version} of ruleset ${id}`, [{ ruleset: id, version }]);
    return v;
  }

  async versionCount(id: string): Promise<number> {
    return (await this.store.kvGet<number>(storeKeys.rulesetVersions(id))) ?? 0;
  }

  async versions(id: string): Promise<VersionRecord[]> {
    const n = await this.versionCount(id);
    if (n === 0) throw new DspError('DSP_RULESET_NOT_FOUND', `no ruleset ${id}`, [{ ruleset: id }]);
    const all = await Promise.all(Array.from({ length: n }, (_, i) => this.store.kvGet<VersionRecord>(storeKeys.rulesetVersion(id, i + 1))));
    return all.filter((v): v is VersionRecord => v !== null);
  }

  stateOf(v: VersionRecord, active: ActiveRecord | null): VersionState {
    if (active?.version === v.version) return 'active';
    return v.activatedAt === null ? 'draft' : 'inactive';
  }

  async audit(id: string): Promise<AuditEntry[]> {
    if ((await this.versionCount(id)) === 0) throw new DspError('DSP_RULESET_NOT_FOUND', `no ruleset ${id}`, [{ ruleset: id }]);
    return this.store.listAll<AuditEntry>(storeKeys.rulesetAudit(id));
  }

  /** A new ruleset with its first draft (version 1). */
  async create(id: string, input: DraftInput, by: string): Promise<VersionRecord> {
    if (!RULESET_ID.test(id)) throw new DspError('DSP_VALIDATION', `a ruleset id is 1-40 lower-case letters, digits and dashes: ${JSON.stringify(id)}`);
    if ((await this.versionCount(id)) > 0) throw new DspError('DSP_RULESET_EXISTS', `ruleset ${id} exists; add a draft to it`, [{ ruleset: id }]);
    const v = await this.addVersion(id, input, by, 'create');
    await this.store.listPush(storeKeys.rulesetIndex, id);
    return v;
  }

  /** A new draft of an existing ruleset (from scratch, or edited from any version). */
  async draft(id: string, input: DraftInput, by: string): Promise<VersionRecord> {
    if ((await this.versionCount(id)) === 0) throw new DspError('DSP_RULESET_NOT_FOUND', `no ruleset ${id}`, [{ ruleset: id }]);
    return this.addVersion(id, input, by, 'draft');
  }

  /** The graph as it will run: checked by the service and read by the engine (either refuses with 422). */
  private checked(id: string, input: DraftInput): JdmGraph {
    return this.engine.prepare({ id, name: input.name, version: 0, failMode: input.failMode, graph: input.graph as JdmGraph }).compiled.graph;
  }

  private async addVersion(id: string, input: DraftInput, by: string, what: 'create' | 'draft'): Promise<VersionRecord> {
    const graph = this.checked(id, input);
    const now = this.clock();
    const version = await this.store.kvIncr(storeKeys.rulesetVersions(id));
    const rec: VersionRecord = {
      ruleset: id,
      version,
      name: input.name,
      description: input.description ?? '',
      failMode: input.failMode,
      graph,
      tests: input.tests ?? [],
      createdAt: now,
      createdBy: by,
      updatedAt: now,
      updatedBy: by,
      activatedAt: null,
    };
    await this.store.kvSet(storeKeys.rulesetVersion(id, version), rec);
    await this.store.listPush(storeKeys.rulesetAudit(id), { at: now, by, what, version } satisfies AuditEntry);
    return rec;
  }

  /** Edits a draft in place (a version never activated); an activated version answers 409. */
  async update(id: string, version: number, input: DraftInput, by: string): Promise<VersionRecord> {
    const old = await this.version(id, version);
    if (old.activatedAt !== null) throw new DspError('DSP_RULESET_NOT_DRAFT', `version ${version} of ${id} was activated; create a new draft from it`, [{ ruleset: id, version }]);
    const graph = this.checked(id, input);
    const now = this.clock();
    const rec: VersionRecord = { ...old, name: input.name, description: input.description ?? '', failMode: input.failMode, graph, tests: input.tests ?? [], updatedAt: now, updatedBy: by };
    await this.store.kvSet(storeKeys.rulesetVersion(id, version), rec);
    await this.store.listPush(storeKeys.rulesetAudit(id), { at: now, by, what: 'update', version } satisfies AuditEntry);
    return rec;
  }

  /** Runs the version's stored test cases on the version alone. */
  async runTests(v: VersionRecord): Promise<TestResult[]> {
    const snap = this.engine.only(asRunnable(v));
    return Promise.all(v.tests.map((t) => this.runTest(snap, t)));
  }

  private async runTest(snap: RuleSnapshot, t: RuleTest): Promise<TestResult> {
    const expected = [...(t.expect?.actions ?? [])].sort();
    try {
      const { evaluation, effects } = await this.evaluate(snap, t.order, t.plan);
      const got = evaluation.fired.filter((f) => f.applied).map((f) => f.action as string).sort();
      // A failClosed ruleset that failed holds the order: a test sees that as HOLD_FOR_REVIEW.
      if (effects.intercept?.reason === 'RULESET_FAILED') got.push('HOLD_FOR_REVIEW');
      got.sort();
      return { name: t.name, passed: JSON.stringify(got) === JSON.stringify(expected), expected, got, failed: evaluation.failed };
    } catch (err) {
      return { name: t.name, passed: false, expected, got: [], failed: [], error: (err as Error).message };
    }
  }

  /** Evaluates a sample order (and plan facts, if given) with no side effects. */
  async evaluate(snap: RuleSnapshot, req: AllocateRequest, plan?: PlanFacts): Promise<DryRun> {
    const region = this.net.regions.lookup(req.destination.lon, req.destination.lat);
    if (!region) throw new DspError('DSP_DESTINATION_UNSERVED', `no region of the network contains (${req.destination.lon}, ${req.destination.lat})`);
    const facts = orderFacts(req, this.net, region, this.clock(), this.tzMinutes);
    const known = { warehouses: new Set(this.net.warehouseById.keys()), couriers: new Set(this.net.couriers.map((c) => c.id)) };
    const pre = await snap.evaluate(facts, 'pre');
    const effects = resolve(pre, snap, known);
    const evaluation: RuleEvaluation = { fired: [...pre.fired], failed: [...pre.failed] };
    if (plan !== undefined && snap.hasPlanRules) {
      const post = await snap.evaluate({ ...facts, plan }, 'post');
      resolve(post, snap, known, effects);
      evaluation.fired.push(...post.fired);
      evaluation.failed.push(...post.failed);
    }
    return { evaluation, effects };
  }

  async dryRun(id: string, version: number, req: AllocateRequest, plan?: PlanFacts): Promise<DryRun & { version: VersionRecord }> {
    const v = await this.version(id, version);
    return { ...(await this.evaluate(this.engine.only(asRunnable(v)), req, plan)), version: v };
  }

  /**
   * Validates the version, runs its tests, then makes it the active one in one write; every
   * instance follows within RULES_POLL_MS (this one at once). Activating an older version is the
   * rollback.
   */
  async activate(id: string, version: number, by: string, what: 'activate' | 'rollback' = 'activate'): Promise<{ record: VersionRecord; tests: TestResult[]; previous: number | null }> {
    const v = await this.version(id, version);
    this.checked(id, v);
    const tests = await this.runTests(v);
    const failing = tests.filter((t) => !t.passed);
    if (failing.length > 0) {
      throw new DspError('DSP_RULESET_TESTS_FAILED', `${failing.length} of ${tests.length} tests of ${id} version ${version} fail (first: ${failing[0]!.name}); nothing was activated`, failing);
    }
    const previous = (await this.active(id))?.version ?? null;
    const now = this.clock();
    const active: ActiveRecord = { ...asRunnable(v), activatedAt: now, activatedBy: by };
    await this.store.kvSet(storeKeys.rulesetActive(id), active);
    const record = v.activatedAt === null ? { ...v, activatedAt: now } : v;
    if (v.activatedAt === null) await this.store.kvSet(storeKeys.rulesetVersion(id, version), record);
    await this.store.listPush(storeKeys.rulesetAudit(id), { at: now, by, what, version, previous } satisfies AuditEntry);
    await this.store.kvIncr(storeKeys.rulesEpoch);
    await this.reload();
    return { record, tests, previous };
  }

  /** Activates the version that was active before the current one (or `version`, when given). */
  async rollback(id: string, by: string, version?: number): Promise<{ record: VersionRecord; tests: TestResult[]; previous: number | null }> {
    let target = version;
    if (target === undefined) {
      const current = (await this.active(id))?.version ?? null;
      const trail = (await this.audit(id)).filter((a) => a.what === 'activate' || a.what === 'rollback');
      // The latest activation of another version than the current one.
      target = [...trail].reverse().find((a) => a.version !== current)?.version;
      if (target === undefined) throw new DspError('DSP_RULESET_NOT_FOUND', `ruleset ${id} has no earlier active version to roll back to`, [{ ruleset: id }]);
    }
    return this.activate(id, target, by, 'rollback');
  }

  /** Reads every active version and swaps them into the engine. */
  async reload(): Promise<void> {
    const epoch = (await this.store.kvGet<number>(storeKeys.rulesEpoch)) ?? 0;
    const actives = (await Promise.all((await this.ids()).map((id) => this.active(id)))).filter((a): a is ActiveRecord => a !== null);
    const good: RulesetVersion[] = [];
    const errors: Record<string, string> = {};
    for (const a of actives) {
      try {
        this.engine.prepareActive(a);
        good.push(a);
      } catch (err) {
        errors[a.id] = (err as Error).message;
      }
    }
    this.engine.load(good);
    this.loadErrors = errors;
    this.epoch = epoch;
  }

  /** Polls the rules epoch every `pollMs` and reloads when another instance activated a version. */
  start(pollMs: number, onError: (err: unknown) => void = () => undefined): void {
    if (this.timer) return;
    const tick = async () => {
      try {
        const epoch = (await this.store.kvGet<number>(storeKeys.rulesEpoch)) ?? 0;
        if (epoch !== this.epoch) await this.reload();
      } catch (err) {
        onError(err);
      }
    };
    this.timer = setInterval(() => void tick(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The bundled rulesets (data/rules/*.json), created and activated as version 1 by 'system' when
   * the store has no ruleset at all: a fresh deployment starts with the case's rules in force.
   */
  async seedBundled(dir: string): Promise<string[]> {
    if ((await this.ids()).length > 0) return [];
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    } catch {
      return [];
    }
    const seeded: string[] = [];
    for (const f of files) {
      const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as DraftInput & { id: string };
      if ((await this.versionCount(doc.id)) > 0) continue;
      await this.create(doc.id, doc, 'system');
      await this.activate(doc.id, 1, 'system');
      seeded.push(doc.id);
    }
    return seeded;
  }
}

export function asRunnable(v: VersionRecord): RulesetVersion {
  return { id: v.ruleset, name: v.name, version: v.version, failMode: v.failMode, graph: v.graph };
}

export { noEffects };
