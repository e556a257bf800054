/**
 * Builders of JSON Decision Model graphs for the rules tests: one input node, the given decision
 * tables, one output node, every table wired from the input and to the output (the only shape the
 * service accepts, src/rules/validate.ts).
 */
export interface Row {
  when: Record<string, string>;
  rule: string;
  action: string;
  params?: Record<string, string>;
}

export function table(id: string, fields: Record<string, string>, rows: Row[], hitPolicy: 'first' | 'collect' = 'collect', params: string[] = []) {
  const inputs = Object.entries(fields).map(([col, field]) => ({ id: col, name: col, field }));
  const outputs = [
    { id: 'rule', name: 'Rule', field: 'rule' },
    { id: 'action', name: 'Action', field: 'action' },
    ...params.map((p) => ({ id: `p_${p}`, name: p, field: `params.${p}` })),
  ];
  const rules = rows.map((r, i) => ({
    _id: `${id}-${i + 1}`,
    ...Object.fromEntries(Object.keys(fields).map((c) => [c, r.when[c] ?? ''])),
    rule: JSON.stringify(r.rule),
    action: JSON.stringify(r.action),
    ...Object.fromEntries(params.map((p) => [`p_${p}`, r.params?.[p] ?? ''])),
  }));
  return { id, type: 'decisionTableNode', name: id, position: { x: 0, y: 0 }, content: { hitPolicy, inputs, outputs, rules } };
}

export function graph(...tables: ({ id: string; type: string; name: string } & Record<string, unknown>)[]) {
  return {
    nodes: [{ id: 'in', type: 'inputNode', name: 'Order', position: { x: 0, y: 0 } }, ...tables, { id: 'out', type: 'outputNode', name: 'Actions', position: { x: 0, y: 0 } }],
    edges: tables.flatMap((t) => [
      { id: `in-${t.id}`, sourceId: 'in', targetId: t.id, type: 'edge' },
      { id: `${t.id}-out`, sourceId: t.id, targetId: 'out', type: 'edge' },
    ]),
  };
}
