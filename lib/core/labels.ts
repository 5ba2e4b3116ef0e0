/** The Kubernetes recommended labels (`app.kubernetes.io/*`) that every object carries. */
export interface RecommendedLabelsOptions {
  /** `app.kubernetes.io/name`: the application. */
  readonly name: string;
  /** `app.kubernetes.io/instance`: this installation of it. */
  readonly instance: string;
  /** `app.kubernetes.io/component`, for example `server` or `agent`. @default - none */
  readonly component?: string;
  /** `app.kubernetes.io/part-of`: the larger system. @default - none */
  readonly partOf?: string;
  /** `app.kubernetes.io/version`. @default - none */
  readonly version?: string;
}

export const MANAGED_BY = 'discovery-kit';

/**
 * The labels selectors use: name and instance only, so that a version bump, a renamed
 * construct or a new component label never changes an immutable selector.
 */
export function selectorLabels(options: Pick<RecommendedLabelsOptions, 'name' | 'instance'> & { component?: string }): Record<string, string> {
  return {
    'app.kubernetes.io/name': options.name,
    'app.kubernetes.io/instance': options.instance,
    ...(options.component ? { 'app.kubernetes.io/component': options.component } : {}),
  };
}

/** All recommended labels, plus `app.kubernetes.io/managed-by: discovery-kit`. */
export function recommendedLabels(options: RecommendedLabelsOptions): Record<string, string> {
  return {
    ...selectorLabels(options),
    ...(options.partOf ? { 'app.kubernetes.io/part-of': options.partOf } : {}),
    ...(options.version ? { 'app.kubernetes.io/version': options.version } : {}),
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}
