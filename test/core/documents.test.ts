import { describe, expect, it } from 'vitest';
import { sendParameters, withIncidentContext } from '../../core/documents.ts';

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

describe('sendParameters: where a document\'s timeoutSeconds goes (SendCommand TimeoutSeconds is only a delivery timeout)', () => {
  it('AWS-RunShellScript and AWS-RunPowerShellScript (by name or ARN): timeoutSeconds is their executionTimeout parameter', () => {
    const shell = sendParameters({ name: 'AWS-RunShellScript', parameters: { commands: ['install'] }, timeoutSeconds: 1_800 });
    const powershell = sendParameters({ name: 'arn:aws:ssm:eu-west-1::document/AWS-RunPowerShellScript', parameters: { commands: ['Install'] }, timeoutSeconds: 90 });

    expect(shell).toEqual({ commands: ['install'], executionTimeout: ['1800'] });
    expect(powershell).toEqual({ commands: ['Install'], executionTimeout: ['90'] });
  });

  it('another document gets no parameter it may not declare (the workflow enforces timeoutSeconds by cancelling), placeholders filled', () => {
    const own = { name: 'Acme-InstallOrders', parameters: { from: ['{{rapid-failover.fromNode}}'] }, timeoutSeconds: 600 };

    expect(sendParameters(own, { app: 'orders', incidentId: 'inc-7', fromNode: 'i-0aaa0000000000001', toNode: 'i-0bbb0000000000002' })).toEqual({ from: ['i-0aaa0000000000001'] });
    expect(own.parameters).toEqual({ from: ['{{rapid-failover.fromNode}}'] });
  });
});

