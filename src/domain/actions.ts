/**
 * Actions that leave the service after a decision (issue 20): the rules engine produces them
 * (src/rules), the outbox delivers them at least once to the configured webhooks (src/outbox).
 * This file is the contract between the two, so neither imports the other.
 */

/** One action to deliver, e.g. CORE_RETURN_TASK for an order with a RECY- line. */
export interface OutboundAction {
  /** The order the action is about. */
  orderId: string;
  /** An action code from the action registry (src/rules/actions.ts), e.g. `FREEZE_RECEIVABLE`. */
  code: string;
  /**
   * What makes two actions of the same code on one order different (e.g. the SKU of a RECY- line);
   * '' when one per order. Delivery is idempotent per (orderId, code, discriminator).
   */
  discriminator: string;
  /** The action's parameters as the rule set them (plain JSON). */
  params: Record<string, unknown>;
  /** Which rule fired it: ruleset id, version number and rule id or name. */
  source: { ruleset: string; version: number; rule: string };
  /** When the decision that fired it was taken (ms since the epoch). */
  decidedAtMs: number;
}

/** Where the allocator hands actions after its decision is stored. */
export interface ActionSink {
  /** Records the actions durably (idempotent per orderId, code and discriminator); delivery is asynchronous. */
  enqueue(actions: readonly OutboundAction[]): Promise<void>;
}
