import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AllocateRequestComponent, FiredRule, ref } from '../domain/schemas.js';
import { toIsoWithOffset } from '../domain/time.js';
import type { RuleEffects } from '../rules/resolve.js';
import type { ActiveRecord, AuditEntry, DraftInput, RuleTest, TestResult, VersionRecord } from '../rules/repo.js';
import { BODY_CODES, errorResponses } from './responses.js';
import type { Services } from './services.js';

/**
 * Business rules (issue 20, docs/rules.md): rulesets of GoRules decision tables, versioned in the
 * state store. GET /v1/rulesets, POST /v1/rulesets (a new ruleset and its first draft),
 * GET /v1/rulesets/{rulesetId}, POST /v1/rulesets/{rulesetId}/versions (a new draft), GET and PUT
 * /v1/rulesets/{rulesetId}/versions/{version} (read, edit a draft), POST …/{version}/test (run its
 * tests), POST …/{version}/dry-run (a sample order, no side effects), POST …/{version}/activate
 * (validate, test, swap in), POST /v1/rulesets/{rulesetId}/rollback, GET /v1/rulesets/{rulesetId}/audit.
 */

const RulesetId = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9][a-z0-9-]{0,39}$', description: 'The ruleset id: lower-case letters, digits and dashes.' });
const IdParams = Type.Object({ rulesetId: RulesetId });
// Path parameters arrive as text (the service's validator does not coerce types): a version number is digits.
const VersionParams = Type.Object({ rulesetId: RulesetId, version: Type.String({ pattern: '^[1-9][0-9]{0,6}$', description: 'The version number (1, 2, …).' }) });
const FailModeSchema = Type.Union([Type.Literal('open'), Type.Literal('closed')], {
  description: 'When a rule fails at run time: open, the order goes on without it (the decision lists the failure); closed, the order is held (RULESET_FAILED).',
});

const PlanFactsSchema = Type.Object(
  {
    status: Type.String(),
    warehouses: Type.Array(Type.String(), { maxItems: 50 }),
    couriers: Type.Array(Type.String(), { maxItems: 50 }),
    costCny: Type.Number(),
    eta: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]),
    late: Type.Boolean(),
    lateDays: Type.Integer({ minimum: 0, maximum: 365 }),
    split: Type.Boolean(),
    shipmentCount: Type.Integer({ minimum: 0, maximum: 1_000 }),
  },
  { $id: 'RulePlanFacts', additionalProperties: false, description: 'A plan as the tables reading plan.* see it (docs/rules.md).' },
);

const RuleTestSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    order: ref(AllocateRequestComponent, 'A sample order, as the ERP would send it.'),
    plan: Type.Optional(ref(PlanFactsSchema)),
    expect: Type.Object({ actions: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100, description: 'The action codes the rules must fire and apply, any order.' }) }, { additionalProperties: false }),
  },
  { $id: 'RuleTest', additionalProperties: false, description: 'A test case stored with a version: activation runs them all first.' },
);

const GraphSchema = Type.Object(
  {
    nodes: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 200 }),
    edges: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 1_000 }),
  },
  { additionalProperties: true, description: 'A GoRules JSON Decision Model: one input node, decision tables (first or collect), one output node (docs/rules.md).' },
);

const DraftFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 2_000 })),
  failMode: FailModeSchema,
  graph: GraphSchema,
  tests: Type.Optional(Type.Array(ref(RuleTestSchema), { maxItems: 200 })),
};
const RulesetDraft = Type.Object(DraftFields, { $id: 'RulesetDraft', additionalProperties: false, description: 'A draft version: the decision tables and their tests.' });
const RulesetCreate = Type.Object({ rulesetId: RulesetId, ...DraftFields }, { $id: 'RulesetCreate', additionalProperties: false, description: 'A new ruleset and its first draft.' });
type DraftBody = Static<typeof RulesetDraft>;

const VersionState = Type.Union([Type.Literal('draft'), Type.Literal('active'), Type.Literal('inactive')]);
const RulesetVersionView = Type.Object(
  {
    ruleset: Type.String(),
    version: Type.Integer(),
    state: VersionState,
    name: Type.String(),
    description: Type.String(),
    failMode: FailModeSchema,
    graph: Type.Object({}, { additionalProperties: true }),
    tests: Type.Array(ref(RuleTestSchema)),
    createdAt: Type.String(),
    createdBy: Type.String({ description: 'The API key id that created it.' }),
    updatedAt: Type.String(),
    updatedBy: Type.String(),
    activatedAt: Type.Union([Type.String(), Type.Null()], { description: 'When it was first activated; null for a draft.' }),
  },
  { $id: 'RulesetVersion', description: 'One version of a ruleset.' },
);

const RulesetSummary = Type.Object(
  {
    id: Type.String(),
    name: Type.String({ description: 'The name of its latest version.' }),
    activeVersion: Type.Union([Type.Integer(), Type.Null()]),
    latestVersion: Type.Integer(),
    inForce: Type.Union([Type.Integer(), Type.Null()], { description: 'The version this instance runs now (null: none, or its graph failed to load).' }),
    activatedAt: Type.Union([Type.String(), Type.Null()]),
    activatedBy: Type.Union([Type.String(), Type.Null()]),
    versions: Type.Array(
      Type.Object({ version: Type.Integer(), state: VersionState, name: Type.String(), createdAt: Type.String(), createdBy: Type.String(), activatedAt: Type.Union([Type.String(), Type.Null()]) }),
    ),
  },
  { $id: 'Ruleset', description: 'A ruleset and its versions.' },
);
const RulesetList = Type.Object({ items: Type.Array(ref(RulesetSummary)) }, { $id: 'RulesetList' });

const TestResultSchema = Type.Object({
  name: Type.String(),
  passed: Type.Boolean(),
  expected: Type.Array(Type.String()),
  got: Type.Array(Type.String()),
  failed: Type.Array(Type.Unknown(), { description: 'Rules that failed at run time in this test.' }),
  error: Type.Optional(Type.String()),
});
const TestRun = Type.Object({ ruleset: Type.String(), version: Type.Integer(), passed: Type.Boolean(), tests: Type.Array(TestResultSchema) }, { $id: 'RulesetTestRun', description: "A version's stored tests, run." });
const Activation = Type.Object(
  { ruleset: Type.String(), version: Type.Integer(), previous: Type.Union([Type.Integer(), Type.Null()], { description: 'The version it replaced.' }), tests: Type.Array(TestResultSchema) },
  { $id: 'RulesetActivation', description: 'The version now active (every instance within RULES_POLL_MS), and its tests that passed.' },
);
const DryRunBody = Type.Object(
  { order: ref(AllocateRequestComponent, 'The sample order.'), plan: Type.Optional(ref(PlanFactsSchema)) },
  { $id: 'RulesetDryRunRequest', additionalProperties: false, description: 'A sample order (and optionally a plan, for tables that read plan.*).' },
);
const DryRunResult = Type.Object(
  {
    ruleset: Type.String(),
    version: Type.Integer(),
    fired: Type.Array(ref(FiredRule)),
    failed: Type.Array(Type.Unknown()),
    effects: Type.Object({
      forbidWarehouses: Type.Array(Type.String()),
      forceWarehouse: Type.Union([Type.String(), Type.Null()]),
      forbidCouriers: Type.Array(Type.String()),
      forceCourier: Type.Union([Type.String(), Type.Null()]),
      noSplit: Type.Boolean(),
      promiseShiftHours: Type.Number(),
      attributes: Type.Record(Type.String(), Type.String()),
      intercept: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
      waybillNotes: Type.Array(Type.Object({ note: Type.String(), sku: Type.Union([Type.String(), Type.Null()]) })),
      tags: Type.Array(Type.String()),
    }),
  },
  { $id: 'RulesetDryRun', description: 'What the version would do to the sample order; nothing was decided or stored.' },
);
const AuditList = Type.Object(
  {
    items: Type.Array(
      Type.Object({
        at: Type.String(),
        by: Type.String({ description: "The API key id ('system' for the bundled rules at start-up)." }),
        what: Type.Union([Type.Literal('create'), Type.Literal('draft'), Type.Literal('update'), Type.Literal('activate'), Type.Literal('rollback')]),
        version: Type.Integer(),
        previous: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
      }),
    ),
  },
  { $id: 'RulesetAudit', description: 'Who changed and activated what, when, oldest first.' },
);
const RollbackBody = Type.Object(
  { version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'The version to go back to; default: the one active before the current one.' })) },
  { $id: 'RulesetRollback', additionalProperties: false },
);

/** The plugin's named schemas (registered by src/api/openapi.ts). */
export const RULESET_COMPONENTS = [PlanFactsSchema, RuleTestSchema, RulesetDraft, RulesetCreate, RulesetVersionView, RulesetSummary, RulesetList, TestRun, Activation, DryRunBody, DryRunResult, AuditList, RollbackBody];

const READ = ['DSP_VALIDATION', 'DSP_RULESET_NOT_FOUND', 'DSP_STORE_UNAVAILABLE'] as const;

export const rulesetRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const repo = svc.rules;
    const tz = svc.config.timezoneOffsetMinutes;
    const iso = (ms: number | null) => (ms === null ? null : toIsoWithOffset(ms, tz));
    const who = (req: FastifyRequest) => req.dspKey?.id ?? 'anonymous';
    const draftOf = (b: DraftBody): DraftInput => ({
      name: b.name,
      failMode: b.failMode,
      graph: b.graph,
      ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.tests !== undefined ? { tests: b.tests as RuleTest[] } : {}),
    });
    const versionView = (v: VersionRecord, active: ActiveRecord | null) => ({
      ruleset: v.ruleset,
      version: v.version,
      state: repo.stateOf(v, active),
      name: v.name,
      description: v.description,
      failMode: v.failMode,
      graph: v.graph,
      tests: v.tests,
      createdAt: iso(v.createdAt)!,
      createdBy: v.createdBy,
      updatedAt: iso(v.updatedAt)!,
      updatedBy: v.updatedBy,
      activatedAt: iso(v.activatedAt),
    });
    const summary = async (id: string) => {
      const [versions, active] = await Promise.all([repo.versions(id), repo.active(id)]);
      const latest = versions[versions.length - 1]!;
      return {
        id,
        name: latest.name,
        activeVersion: active?.version ?? null,
        latestVersion: latest.version,
        inForce: repo.engine.versions[id] ?? null,
        activatedAt: iso(active?.activatedAt ?? null),
        activatedBy: active?.activatedBy ?? null,
        versions: versions.map((v) => ({ version: v.version, state: repo.stateOf(v, active), name: v.name, createdAt: iso(v.createdAt)!, createdBy: v.createdBy, activatedAt: iso(v.activatedAt) })),
      };
    };
    const testResults = (tests: TestResult[]) => tests.map((t) => ({ ...t, failed: t.failed as unknown[] }));
    const effectsView = (fx: RuleEffects) => ({
      forbidWarehouses: [...fx.forbidWarehouses],
      forceWarehouse: fx.forceWarehouse,
      forbidCouriers: [...fx.forbidCouriers],
      forceCourier: fx.forceCourier,
      noSplit: fx.noSplit,
      promiseShiftHours: fx.promiseShiftHours,
      attributes: fx.attributes,
      intercept: fx.intercept,
      waybillNotes: fx.notes,
      tags: fx.tags,
    });

    app.get('/v1/rulesets', {
      schema: { operationId: 'listRulesets', tags: ['rules'], summary: 'Every ruleset: its active version and versions', response: { 200: ref(RulesetList, 'The rulesets, by id.'), ...errorResponses('DSP_STORE_UNAVAILABLE') } },
    }, async () => ({ items: await Promise.all((await repo.ids()).map(summary)) }));

    app.post<{ Body: Static<typeof RulesetCreate> }>('/v1/rulesets', {
      schema: {
        operationId: 'createRuleset',
        tags: ['rules'],
        summary: 'Create a ruleset with its first draft (version 1); nothing runs until it is activated',
        body: ref(RulesetCreate),
        response: { 201: ref(RulesetVersionView, 'The draft.'), ...errorResponses(...BODY_CODES, 'DSP_RULESET_INVALID', 'DSP_RULESET_EXISTS', 'DSP_STORE_UNAVAILABLE') },
      },
    }, async (req, reply) => {
      const { rulesetId, ...rest } = req.body;
      const v = await repo.create(rulesetId, draftOf(rest), who(req));
      return reply.status(201).send(versionView(v, null));
    });

    app.get<{ Params: Static<typeof IdParams> }>('/v1/rulesets/:rulesetId', {
      schema: { operationId: 'getRuleset', tags: ['rules'], summary: 'A ruleset: its active version and every version', params: IdParams, response: { 200: ref(RulesetSummary, 'The ruleset.'), ...errorResponses(...READ) } },
    }, async (req) => summary(req.params.rulesetId));

    app.post<{ Params: Static<typeof IdParams>; Body: DraftBody }>('/v1/rulesets/:rulesetId/versions', {
      schema: {
        operationId: 'createRulesetDraft',
        tags: ['rules'],
        summary: 'Add a draft version to a ruleset (e.g. a copy of the active one with cells edited)',
        params: IdParams,
        body: ref(RulesetDraft),
        response: { 201: ref(RulesetVersionView, 'The draft.'), ...errorResponses(...BODY_CODES, 'DSP_RULESET_INVALID', 'DSP_RULESET_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
      },
    }, async (req, reply) => {
      const v = await repo.draft(req.params.rulesetId, draftOf(req.body), who(req));
      return reply.status(201).send(versionView(v, await repo.active(req.params.rulesetId)));
    });

    app.get<{ Params: Static<typeof VersionParams> }>('/v1/rulesets/:rulesetId/versions/:version', {
      schema: { operationId: 'getRulesetVersion', tags: ['rules'], summary: 'One version of a ruleset, with its tables and tests', params: VersionParams, response: { 200: ref(RulesetVersionView, 'The version.'), ...errorResponses(...READ) } },
    }, async (req) => versionView(await repo.version(req.params.rulesetId, Number(req.params.version)), await repo.active(req.params.rulesetId)));

    app.put<{ Params: Static<typeof VersionParams>; Body: DraftBody }>('/v1/rulesets/:rulesetId/versions/:version', {
      schema: {
        operationId: 'updateRulesetDraft',
        tags: ['rules'],
        summary: 'Edit a draft (a version never activated)',
        params: VersionParams,
        body: ref(RulesetDraft),
        response: { 200: ref(RulesetVersionView, 'The draft, edited.'), ...errorResponses(...BODY_CODES, 'DSP_RULESET_INVALID', 'DSP_RULESET_NOT_FOUND', 'DSP_RULESET_NOT_DRAFT', 'DSP_STORE_UNAVAILABLE') },
      },
    }, async (req) => versionView(await repo.update(req.params.rulesetId, Number(req.params.version), draftOf(req.body), who(req)), await repo.active(req.params.rulesetId)));

    app.post<{ Params: Static<typeof VersionParams> }>('/v1/rulesets/:rulesetId/versions/:version/test', {
      schema: {
        operationId: 'testRulesetVersion',
        tags: ['rules'],
        summary: "Run a version's stored tests (no side effects)",
        params: VersionParams,
        response: { 200: ref(TestRun, 'The results.'), ...errorResponses(...READ, 'DSP_BAD_JSON', 'DSP_UNSUPPORTED_MEDIA_TYPE', 'DSP_BODY_TOO_LARGE') },
      },
    }, async (req) => {
      const tests = await repo.runTests(await repo.version(req.params.rulesetId, Number(req.params.version)));
      return { ruleset: req.params.rulesetId, version: Number(req.params.version), passed: tests.every((t) => t.passed), tests: testResults(tests) };
    });

    app.post<{ Params: Static<typeof VersionParams>; Body: Static<typeof DryRunBody> }>('/v1/rulesets/:rulesetId/versions/:version/dry-run', {
      schema: {
        operationId: 'dryRunRulesetVersion',
        tags: ['rules'],
        summary: 'What a version (a draft too) would do to a sample order; nothing is decided, reserved or sent',
        params: VersionParams,
        body: ref(DryRunBody),
        response: { 200: ref(DryRunResult, 'The rules that fired and what they would do.'), ...errorResponses(...BODY_CODES, ...READ, 'DSP_DESTINATION_UNSERVED') },
      },
    }, async (req) => {
      const r = await repo.dryRun(req.params.rulesetId, Number(req.params.version), req.body.order, req.body.plan);
      return { ruleset: req.params.rulesetId, version: Number(req.params.version), fired: r.evaluation.fired, failed: r.evaluation.failed, effects: effectsView(r.effects) };
    });

    app.post<{ Params: Static<typeof VersionParams> }>('/v1/rulesets/:rulesetId/versions/:version/activate', {
      schema: {
        operationId: 'activateRulesetVersion',
        tags: ['rules'],
        summary: 'Validate a version, run its tests, then make it the active one (every instance within RULES_POLL_MS); an older version: a rollback',
        params: VersionParams,
        response: { 200: ref(Activation, 'Activated.'), ...errorResponses(...READ, 'DSP_BAD_JSON', 'DSP_UNSUPPORTED_MEDIA_TYPE', 'DSP_BODY_TOO_LARGE', 'DSP_RULESET_INVALID', 'DSP_RULESET_TESTS_FAILED') },
      },
    }, async (req) => {
      const r = await repo.activate(req.params.rulesetId, Number(req.params.version), who(req));
      return { ruleset: req.params.rulesetId, version: r.record.version, previous: r.previous, tests: testResults(r.tests) };
    });

    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof RollbackBody> | undefined }>('/v1/rulesets/:rulesetId/rollback', {
      schema: {
        operationId: 'rollbackRuleset',
        tags: ['rules'],
        summary: 'Activate the version that was active before the current one (or the version named)',
        params: IdParams,
        body: ref(RollbackBody),
        response: { 200: ref(Activation, 'Rolled back.'), ...errorResponses(...BODY_CODES, 'DSP_RULESET_NOT_FOUND', 'DSP_STORE_UNAVAILABLE', 'DSP_RULESET_INVALID', 'DSP_RULESET_TESTS_FAILED') },
      },
    }, async (req) => {
      const r = await repo.rollback(req.params.rulesetId, who(req), req.body?.version);
      return { ruleset: req.params.rulesetId, version: r.record.version, previous: r.previous, tests: testResults(r.tests) };
    });

    app.get<{ Params: Static<typeof IdParams> }>('/v1/rulesets/:rulesetId/audit', {
      schema: { operationId: 'getRulesetAudit', tags: ['rules'], summary: 'Who created, edited and activated which version, when', params: IdParams, response: { 200: ref(AuditList, 'The audit trail, oldest first.'), ...errorResponses(...READ) } },
    }, async (req) => ({ items: (await repo.audit(req.params.rulesetId)).map((a: AuditEntry) => ({ ...a, at: iso(a.at)! })) }));
  };
