import { appsProgram } from './program';

// Pulumi calls an exported function and awaits it; what it resolves to becomes the stack outputs.
export = appsProgram;
