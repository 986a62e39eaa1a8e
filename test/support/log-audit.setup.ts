/**
 * Registered in jest.config.js (`setupFilesAfterEnv`): every test file runs under the log audit
 * of test/support/log-audit.ts.
 */
import { installLogAudit } from './log-audit';

installLogAudit();
