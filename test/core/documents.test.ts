import { describe, expect, it } from 'vitest';
import { withIncidentContext } from '../../core/documents.ts';

describe('withIncidentContext', () => {
  const context = { app: 'orders', incidentId: 'inc-7', fromNode: 'i-0aaa0000000000001', toNode: 'i-0bbb0000000000002' };

  it('A16: replaces every placeholder, in every value of every parameter', () => {
    const filled = withIncidentContext({ commands: ['a {{rapid-failover.fromNode}}', 'b {{rapid-failover.toNode}}'], tag: ['{{rapid-failover.incidentId}}/{{rapid-failover.app}}'] }, context);

    expect(filled).toEqual({ commands: ['a i-0aaa0000000000001', 'b i-0bbb0000000000002'], tag: ['inc-7/orders'] });
  });

  it('A16: an unknown node becomes empty text; SSM parameter syntax and other braces are left alone', () => {
    const filled = withIncidentContext({ commands: ['from "{{rapid-failover.fromNode}}" {{ ssm:param }} {{rapid-failover.nope}}'] }, { ...context, fromNode: null });

    expect(filled.commands).toEqual(['from "" {{ ssm:param }} {{rapid-failover.nope}}']);
  });
});
