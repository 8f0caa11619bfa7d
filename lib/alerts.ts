import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertsProps {
  /** Administrator email addresses; each must confirm its subscription. */
  readonly emails: readonly string[];
}

/** The administrators' SNS topic: KMS-encrypted, TLS only, email subscriptions. */
export class Alerts extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    if (props.emails.length === 0) throw new Error('Alerts: at least one administrator email is needed');
    this.key = new kms.Key(this, 'Key', {
      description: 'rapid-failover administrator alerts',
      enableKeyRotation: true,
    });
    // CloudWatch alarms publish to the topic and need the key.
    this.key.grantEncryptDecrypt(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'rapid-failover alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }
}
