import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { toIsoWithOffset } from '../allocate/time.js';
import { ErrorBody } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { defaultDataDir } from '../network/load.js';
import type { Policy } from '../replay/engine.js';
import type { ReplayJob, ReplayJobs } from '../replay/jobs.js';
import { renderReport } from '../replay/report.js';
import { badEventTimes, ScenarioSchema, type Scenario } from '../replay/scenario.js';
import type { Services } from './services.js';

export const BUNDLED_SCENARIOS = ['normal-week', 'double11', 'sto-gap', 'hefei-closed', 'demand-x3'] as const;
const PolicyList = Type.Array(Type.Union([Type.Literal('nearest'), Type.Literal('radius-rule'), Type.Literal('optimized')]), { minItems: 1, maxItems: 3 });
const Bundled = Type.Object({ bundled: Type.Union(BUNDLED_SCENARIOS.map((n) => Type.Literal(n))), policies: Type.Optional(PolicyList) }, { additionalProperties: false });
/**
 * The body is a bundled scenario's name or a whole scenario. Validated in the handler with the
 * same TypeBox schemas: Ajv's strict mode refuses the union (defaults inside anyOf are ignored).
 */
const Body = Type.Object({}, { additionalProperties: true, description: 'Either {"bundled": "<name>", "policies"?: [...]} or a scenario (data/scenarios/scenario.schema.json).' });
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * What-if replays as jobs (issue 6): POST /v1/scenarios (a bundled scenario by name, or a whole
 * scenario with inline events or a generator), GET /v1/scenarios, GET /v1/scenarios/{id} (status,
 * progress, KPIs), GET /v1/scenarios/{id}/report (the HTML report).
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
      { schema: { tags: ['replays'], summary: 'Start a what-if replay (a job); poll its status', body: Body, response: { 400: ErrorBody, 503: ErrorBody } } },
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
        } else {
          scenario = Value.Default(ScenarioSchema, structuredClone(body)) as Scenario;
          if (scenario.eventsFile !== undefined) throw new DspError('DSP_VALIDATION', 'eventsFile is for the CLI; send the events inline');
          if (!scenario.events && !scenario.generator) throw new DspError('DSP_VALIDATION', 'give events or generator');
          const bad = badEventTimes(scenario.events ?? []);
          if (bad.length > 0) throw new DspError('DSP_BAD_TIME', bad[0]!, bad.slice(0, 10).map((message) => ({ message })));
        }
        const job = jobs.submit(scenario, (scenario.policies ?? ['nearest', 'optimized']) as Policy[]);
        return reply.status(202).header('location', `/v1/scenarios/${job.id}`).send(view(job, false));
      },
    );
    app.get('/v1/scenarios', { schema: { tags: ['replays'], summary: "This instance's replays, newest first" } }, async () => ({ items: jobs.list().map((j) => view(j, false)) }));
    app.get<{ Params: Static<typeof Params> }>(
      '/v1/scenarios/:id',
      { schema: { tags: ['replays'], summary: 'A replay: status, progress and, when done, the KPIs per policy', params: Params, response: { 404: ErrorBody } } },
      async (req) => view(jobOf(req.params.id), true),
    );
    app.get<{ Params: Static<typeof Params> }>(
      '/v1/scenarios/:id/report',
      { schema: { tags: ['replays'], summary: 'The HTML report of a finished replay', params: Params, produces: ['text/html'], response: { 404: ErrorBody, 409: ErrorBody } } },
      async (req, reply) => {
        const j = jobOf(req.params.id);
        if (j.status !== 'done' || !j.result) throw new DspError('DSP_REPLAY_NOT_READY', `replay ${j.id} is ${j.status}`, [{ id: j.id, status: j.status, error: j.error }]);
        return reply.type('text/html; charset=utf-8').send(renderReport(j.result));
      },
    );
  };
