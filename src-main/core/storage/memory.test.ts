import { storageConformance } from './conformance';
import { MemoryStorage } from './memory';

storageConformance('memory', { create: async () => new MemoryStorage() });
