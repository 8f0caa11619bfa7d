import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertsProps {
  /** Administrator email addresses; each must confirm its subscription. */
  readonly emails: readonly string[];
  /**
   * Every alarm of the stack that may notify the topic starts with it (`rapid-failover.<stack>.`):
   * CloudWatch may publish, and use the key, only for those alarms.
   */
  readonly alarmNamePrefix: string;
}

/**
 * The administrators' SNS topic: KMS-encrypted, TLS only, email subscriptions, and open to the
 * stack's own CloudWatch alarms. The workflow's step role publishes through its IAM policy (same
 * account), which the topic policy does not need to repeat.
 */
export class Alerts extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    if (props.emails.length === 0) throw new Error('Alerts: at least one administrator email is needed');
    if (!props.alarmNamePrefix) throw new Error('Alerts: alarmNamePrefix is needed (the topic admits only the stack\'s alarms)');
    const stack = Stack.of(this);
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    // Only this account's alarms whose names carry the stack's prefix (the confused-deputy guard).
    const fromTheStacksAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${props.alarmNamePrefix}*` },
    };

    this.key = new kms.Key(this, 'Key', {
      description: 'rapid-failover administrator alerts',
      enableKeyRotation: true,
    });
    // CloudWatch publishes an alarm's notification to the encrypted topic with this key; it needs
    // GenerateDataKey* and Decrypt on it, nothing else ("Encrypting Amazon SNS topics": "Enable
    // compatibility between event sources from AWS services and encrypted topics",
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromTheStacksAlarms,
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'rapid-failover alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default policy, so without this statement no alarm could
    // publish ("Example cases for Amazon SNS access control", Amazon SNS Developer Guide: a topic
    // policy granting cloudwatch.amazonaws.com sns:Publish with aws:SourceArn and aws:SourceAccount,
    // https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromTheStacksAlarms,
      }),
    );
    for (const email of props.emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }
}
