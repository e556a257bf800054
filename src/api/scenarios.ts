import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { toIsoWithOffset } from '../domain/time.js';
import { named, ref } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { defaultDataDir } from '../network/load.js';
import type { Policy } from '../replay/engine.js';
import type { ReplayJob, ReplayJobs } from '../replay/jobs.js';
import { renderReport } from '../replay/report.js';
import { badEventTimes, scenarioOrders, scenarioProblems, ScenarioSchema, type Scenario } from '../replay/scenario.js';
import { BODY_CODES, errorResponses } from './responses.js';
import type { Services } from './services.js';

export const BUNDLED_SCENARIOS = ['normal-week', 'double11', 'sto-gap', 'hefei-closed', 'demand-x3', 'promotion'] as const;
const PolicyList = Type.Array(Type.Union([Type.Literal('nearest'), Type.Literal('radius-rule'), Type.Literal('myopic'), Type.Literal('optimized')]), { minItems: 1, maxItems: 4, uniqueItems: true });
const Bundled = Type.Object(
  {
    bundled: Type.Union(BUNDLED_SCENARIOS.map((n) => Type.Literal(n)), { description: 'A bundled scenario (data/scenarios/).' }),
    policies: Type.Optional(PolicyList),
    clairvoyant: Type.Optional(Type.Boolean({ description: "Also solve the whole-stream clairvoyant model (docs/replays.md): its LP bound, plan and each policy's gap captured; at most REPLAY_CLAIRVOYANT_MAX_ORDERS orders." })),
  },
  { $id: 'BundledScenario', additionalProperties: false, description: 'A bundled scenario by name, optionally with other policies and the clairvoyant model.' },
);
const ScenarioComponent = named('Scenario', ScenarioSchema, 'A whole scenario (data/scenarios/scenario.schema.json) with inline events or a generator.');
/**
 * The body is a bundled scenario's name or a whole scenario, documented as that union. Validated
 * in the handler with the same TypeBox schemas: Ajv's strict mode refuses the union (defaults
 * inside anyOf are ignored), so the route's own validator lets every body through to it.
 */
const Body = Type.Union([ref(Bundled), ref(ScenarioComponent)], { description: 'A bundled scenario by name, or a whole scenario.' });
const Iso = (description: string) => Type.String({ description: `${description}, ISO-8601 with offset.` });
const NullableIso = (description: string) => Type.Union([Iso(description), Type.Null()]);
const ReplayResultSchema = Type.Object(
  {
    scenario: Type.String(),
    orders: Type.Integer({ description: 'Orders replayed.' }),
    policies: Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), { description: 'KPIs per policy, overall, per day and per hour (docs/replays.md).' }),
    hindsight: Type.Union([
      Type.Object(
        {
          costPerOrder: Type.Union([Type.Number(), Type.Null()], { description: 'Money per order (CNY) of the hindsight plans over all orders: the clairvoyant plan when it was solved.' }),
          unproven: Type.Optional(Type.Number()),
          method: Type.Optional(Type.String()),
          lpBound: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: "The clairvoyant model's LP bound, money per order (CNY); null unless the job asked for `clairvoyant`." })),
        },
        { additionalProperties: true },
      ),
      Type.Null(),
    ], { description: 'The hindsight bound on cost per order (docs/replays.md); null when not computed.' }),
  },
  { $id: 'ReplayResult', additionalProperties: true },
);
const ReplayJobView = Type.Object(
  {
    id: Type.String(),
    scenario: Type.String({ description: "The scenario's name." }),
    policies: Type.Array(Type.String()),
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')]),
    progress: Type.Number({ minimum: 0, maximum: 1, description: '0..1 over all policies, the hindsight bound and, when asked, the clairvoyant model.' }),
    current: Type.Union([Type.String(), Type.Null()], { description: 'The policy being replayed now.' }),
    createdAt: Iso('When the job was submitted'),
    startedAt: NullableIso('When it started'),
    finishedAt: NullableIso('When it finished'),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Why it failed.' }),
    result: Type.Optional(Type.Union([ref(ReplayResultSchema), Type.Null()], { description: 'The KPIs once done (GET /v1/scenarios/{id} only).' })),
    links: Type.Object({ self: Type.String(), report: Type.String() }),
  },
  { $id: 'ReplayJob', description: 'A what-if replay job of this instance.' },
);
const ReplayJobList = Type.Object({ items: Type.Array(ref(ReplayJobView)) }, { $id: 'ReplayJobList' });
/** The plugin's named schemas (registered by src/api/openapi.ts). */
export const SCENARIO_COMPONENTS = [Bundled, ScenarioComponent, ReplayResultSchema, ReplayJobView, ReplayJobList];
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'The replay id (RPL-…).' }) });

/**
 * What-if replays as jobs (issue 6): POST /v1/scenarios (a bundled scenario by name, or a whole
 * scenario with inline events or a generator; checked whole before it is accepted, and refused
 * beyond REPLAY_MAX_ORDER_DECISIONS), GET /v1/scenarios, GET /v1/scenarios/{id} (status,
 * progress, KPIs), DELETE /v1/scenarios/{id} (cancel), GET /v1/scenarios/{id}/report (the HTML
 * report).
 */
export const scenarioRoutes =
  (svc: Services, jobs: ReplayJobs): FastifyPluginAsync =>
  async (app) => {
    const tz = svc.config.timezoneOffsetMinutes;
    const iso = (ms: number | null) => (ms === null ? null : toIsoWithOffset(ms, tz));
    const view = (j: ReplayJob, withResult: boolean) => ({
      id: j.id,
      scenario: j.scenario,
      policies: j.policies,
      status: j.status,
      progress: Math.round(j.progress * 1_000) / 1_000,
      current: j.current,
      createdAt: iso(j.createdAt),
      startedAt: iso(j.startedAt),
      finishedAt: iso(j.finishedAt),
      error: j.error,
      ...(withResult ? { result: j.result } : {}),
      links: { self: `/v1/scenarios/${j.id}`, report: `/v1/scenarios/${j.id}/report` },
    });
    const jobOf = (id: string) => {
      const j = jobs.get(id);
      if (!j) throw new DspError('DSP_REPLAY_NOT_FOUND', `no replay ${id} on this instance`, [{ id }]);
      return j;
    };

    app.post<{ Body: object }>(
      '/v1/scenarios',
      {
        schema: {
          operationId: 'startScenario',
          tags: ['replays'],
          summary: 'Start a what-if replay (a job); poll its status',
          body: Body,
          response: {
            202: ref(ReplayJobView, 'The job, queued; Location names it.'),
            ...errorResponses(...BODY_CODES, 'DSP_BAD_TIME', 'DSP_REPLAY_TOO_LARGE', 'DSP_OVERLOADED'),
          },
        },
        // The handler validates the body (see Body).
        validatorCompiler: () => () => true,
      },
      async (req, reply) => {
        let scenario: Scenario;
        const body: unknown = req.body;
        const schema = typeof body === 'object' && body !== null && 'bundled' in body ? Bundled : ScenarioSchema;
        const errors = [...Value.Errors(schema, body)].slice(0, 10).map((e) => ({ path: e.path || '/', message: e.message }));
        if (errors.length > 0) throw new DspError('DSP_VALIDATION', `body is not a ${schema === Bundled ? 'bundled-scenario request' : 'scenario'}: ${errors[0]!.path} ${errors[0]!.message}`, errors);
        if (schema === Bundled) {
          const b = body as Static<typeof Bundled>;
          scenario = JSON.parse(readFileSync(join(defaultDataDir(), 'scenarios', `${b.bundled}.json`), 'utf8')) as Scenario;
          if (b.policies) scenario.policies = b.policies;
          if (b.clairvoyant !== undefined) scenario.clairvoyant = b.clairvoyant;
        } else {
          scenario = Value.Default(ScenarioSchema, structuredClone(body)) as Scenario;
          if (scenario.eventsFile !== undefined) throw new DspError('DSP_VALIDATION', 'eventsFile is for the CLI; send the events inline');
          if (!scenario.events && !scenario.generator) throw new DspError('DSP_VALIDATION', 'give events or generator');
          const bad = badEventTimes(scenario.events ?? []);
          if (bad.length > 0) throw new DspError('DSP_BAD_TIME', bad[0]!, bad.slice(0, 10).map((message) => ({ message })));
        }
        const problems = scenarioProblems(scenario, svc.net);
        if (problems.length > 0) throw new DspError('DSP_VALIDATION', `scenario: ${problems[0]!}`, problems.slice(0, 10).map((message) => ({ message })));
        const policies = (scenario.policies ?? ['nearest', 'optimized']) as Policy[];
        const orders = scenarioOrders(scenario);
        const work = orders * (policies.length + 1);
        if (work > svc.config.replayMaxOrderDecisions) {
          throw new DspError(
            'DSP_REPLAY_TOO_LARGE',
            `the replay would decide ${orders} orders x ${policies.length + 1} (policies + hindsight) = ${work}, more than REPLAY_MAX_ORDER_DECISIONS (${svc.config.replayMaxOrderDecisions})`,
            [{ orders, policies: policies.length, work, limit: svc.config.replayMaxOrderDecisions }],
          );
        }
        if (scenario.clairvoyant && orders > svc.config.replayClairvoyantMaxOrders) {
          throw new DspError(
            'DSP_REPLAY_TOO_LARGE',
            `the clairvoyant model of ${orders} orders is one HiGHS model of the whole stream; over the API it is solved for at most REPLAY_CLAIRVOYANT_MAX_ORDERS (${svc.config.replayClairvoyantMaxOrders}) orders: replay fewer days or use the CLI (--clairvoyant)`,
            [{ orders, limit: svc.config.replayClairvoyantMaxOrders }],
          );
        }
        const job = jobs.submit(scenario, policies);
        return reply.status(202).header('location', `/v1/scenarios/${job.id}`).send(view(job, false));
      },
    );
    app.get(
      '/v1/scenarios',
      { schema: { operationId: 'listScenarios', tags: ['replays'], summary: "This instance's replays, newest first", response: { 200: ref(ReplayJobList, 'The replays.'), ...errorResponses() } } },
      async () => ({ items: jobs.list().map((j) => view(j, false)) }),
    );
    app.get<{ Params: Static<typeof Params> }>(
      '/v1/scenarios/:id',
      {
        schema: {
          operationId: 'getScenario',
          tags: ['replays'],
          summary: 'A replay: status, progress and, when done, the KPIs per policy',
          params: Params,
          response: { 200: ref(ReplayJobView, 'The replay.'), ...errorResponses('DSP_VALIDATION', 'DSP_REPLAY_NOT_FOUND') },
        },
      },
      async (req) => view(jobOf(req.params.id), true),
    );
    app.delete<{ Params: Static<typeof Params> }>(
      '/v1/scenarios/:id',
      {
        schema: {
          operationId: 'cancelScenario',
          tags: ['replays'],
          summary: 'Cancel a queued or running replay (its worker is stopped)',
          params: Params,
          response: { 200: ref(ReplayJobView, 'The replay, cancelled.'), ...errorResponses(...BODY_CODES, 'DSP_REPLAY_NOT_FOUND', 'DSP_REPLAY_ENDED') },
        },
      },
      async (req) => {
        const j = await jobs.cancel(req.params.id);
        if (!j) throw new DspError('DSP_REPLAY_NOT_FOUND', `no replay ${req.params.id} on this instance`, [{ id: req.params.id }]);
        return view(j, false);
      },
    );
    app.get<{ Params: Static<typeof Params> }>(
      '/v1/scenarios/:id/report',
      {
        schema: {
          operationId: 'getScenarioReport',
          tags: ['replays'],
          summary: 'The HTML report of a finished replay',
          params: Params,
          response: {
            200: { description: 'The report: one self-contained HTML page.', content: { 'text/html': { schema: Type.String() } } },
            ...errorResponses('DSP_VALIDATION', 'DSP_REPLAY_NOT_FOUND', 'DSP_REPLAY_NOT_READY'),
          },
        },
      },
      async (req, reply) => {
        const j = jobOf(req.params.id);
        if (j.status !== 'done' || !j.result) throw new DspError('DSP_REPLAY_NOT_READY', `replay ${j.id} is ${j.status}`, [{ id: j.id, status: j.status, error: j.error }]);
        return reply.type('text/html; charset=utf-8').send(renderReport(j.result));
      },
    );
  };
