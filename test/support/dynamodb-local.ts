/** The DynamoDB Local runner lives with the local stack; tests and benchmarks share it. */
export * from '../../infra/local/dynamodb-local';
