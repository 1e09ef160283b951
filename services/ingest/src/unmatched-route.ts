/**
 * The route label of a request no route takes (404 ROUTE_NOT_FOUND): its path is the client's, of
 * unbounded variety, so it is never the label.
 */
export const unmatchedRoute = 'unmatched';
