package gatehouse

import (
	"context"
	"time"
)

// IntegrationStore is the part of Store behind Magento-style integrations
// and the OAuth 1.0a provider.
type IntegrationStore interface {
	// CreateIntegration stores an integration; a duplicate consumer key is
	// ECONFLICT.
	CreateIntegration(ctx context.Context, i *Integration) error
	FindIntegration(ctx context.Context, tenantID, id string) (*Integration, error)
	// FindIntegrationByConsumerKey looks up across tenants (the OAuth 1.0a
	// endpoints learn the tenant from the consumer key).
	FindIntegrationByConsumerKey(ctx context.Context, consumerKey string) (*Integration, error)
	ListIntegrations(ctx context.Context, tenantID string, f ListFilter) ([]*Integration, error)
	// UpdateIntegration saves every mutable field. When the resources
	// change, the live tokens' scopes change with them in the same
	// transaction (and caches hear of it).
	UpdateIntegration(ctx context.Context, i *Integration) error
	// DeleteIntegration deletes the integration, its request tokens and
	// deliveries and, in the same transaction, revokes its access tokens.
	DeleteIntegration(ctx context.Context, tenantID, id string, now time.Time) error

	CreateRequestToken(ctx context.Context, t *OAuth1Token) error
	// FindRequestToken returns a request token by hash, used or not, so its
	// secret can check a signature before ConsumeRequestToken.
	FindRequestToken(ctx context.Context, hash []byte) (*OAuth1Token, error)
	// ConsumeRequestToken marks it used: exactly one caller succeeds; a used
	// token is ECONFLICT, an unknown one ENOTFOUND.
	ConsumeRequestToken(ctx context.Context, hash []byte, now time.Time) (*OAuth1Token, error)

	// IssueIntegrationToken, in one transaction, revokes the integration's
	// live access tokens (at now), stores c (an access token of kind
	// integration), marks the integration active and clears its verifier.
	IssueIntegrationToken(ctx context.Context, tenantID, integrationID string, c *Credential, now time.Time) error
	// DeactivateIntegration, in one transaction, revokes the integration's
	// live access tokens (at now), marks it inactive and clears its
	// verifier (Reauthorize: the old token stops working at once, and
	// should the new handshake fail the integration is not left "active"
	// without a token).
	DeactivateIntegration(ctx context.Context, tenantID, integrationID string, now time.Time) error

	AddDelivery(ctx context.Context, d *Delivery) error
	// ListDeliveries returns a page of the integration's deliveries, newest first.
	ListDeliveries(ctx context.Context, tenantID, integrationID string, q PageQuery) ([]*Delivery, error)

	AddNotification(ctx context.Context, n *Notification) error
	// ListNotifications returns the tenant's notifications, newest first.
	ListNotifications(ctx context.Context, tenantID string, unreadOnly bool, limit int) ([]*Notification, error)
	MarkNotificationsRead(ctx context.Context, tenantID string, now time.Time) error
}
