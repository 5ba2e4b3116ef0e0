import { platformProgram } from './program';

// Pulumi calls an exported function; what it returns becomes the stack outputs.
export = platformProgram;
