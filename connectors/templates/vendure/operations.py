"""The GraphQL documents the Vendure template sends to the Admin API, one constant per operation."""

from __future__ import annotations

LOGIN = """
mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) {
    __typename
    ... on CurrentUser { id identifier }
    ... on ErrorResult { errorCode message }
  }
}
"""

ACTIVE_CHANNEL = """
query ActiveChannel {
  activeChannel { id code token defaultCurrencyCode defaultLanguageCode }
}
"""

VARIANT_FIELDS = """
  id sku name enabled createdAt updatedAt
  price priceWithTax currencyCode
  prices { currencyCode price }
  stockOnHand stockAllocated trackInventory
  stockLevels { stockLocationId stockOnHand stockAllocated stockLocation { id name } }
  product { id name slug description enabled }
  options { code name group { code name } }
  facetValues { code name facet { code name } }
  taxCategory { id name }
"""

PRODUCT_VARIANTS = f"""
query ProductVariants($options: ProductVariantListOptions) {{
  productVariants(options: $options) {{
    totalItems
    items {{ {VARIANT_FIELDS} }}
  }}
}}
"""

VARIANTS_BY_SKU = """
query VariantsBySku($skus: [String!]!, $take: Int!) {
  productVariants(options: { filter: { sku: { in: $skus } }, take: $take }) {
    items { id sku }
  }
}
"""

ORDER_FIELDS = """
  id code state active type createdAt updatedAt orderPlacedAt currencyCode
  subTotal subTotalWithTax shipping shippingWithTax total totalWithTax
  couponCodes
  customer { id emailAddress firstName lastName }
  lines {
    id quantity unitPrice unitPriceWithTax linePrice lineTax
    discountedLinePrice proratedLinePrice
    productVariant { id sku name }
  }
  discounts { description amount amountWithTax }
  promotions { id name couponCode }
  taxSummary { description taxRate taxBase taxTotal }
  payments { id method amount state transactionId }
  shippingAddress { fullName streetLine1 streetLine2 city postalCode countryCode }
  shippingLines { priceWithTax shippingMethod { code name } }
  fulfillments { id state method trackingCode }
"""

ORDERS = f"""
query Orders($options: OrderListOptions) {{
  orders(options: $options) {{
    totalItems
    items {{ {ORDER_FIELDS} }}
  }}
}}
"""

STOCK_LOCATIONS = """
query StockLocations {
  stockLocations(options: { take: 1000 }) { items { id name } }
}
"""

UPDATE_PRODUCT_VARIANTS = """
mutation UpdateProductVariants($input: [UpdateProductVariantInput!]!) {
  updateProductVariants(input: $input) { id sku price currencyCode stockOnHand updatedAt }
}
"""

PROMOTION_FIELDS = """
  id name description enabled couponCode startsAt endsAt usageLimit perCustomerUsageLimit updatedAt
  conditions { code args { name value } }
  actions { code args { name value } }
"""

PROMOTIONS_BY_DESCRIPTION = f"""
query PromotionsByDescription($descriptions: [String!]!, $take: Int!) {{
  promotions(options: {{ filter: {{ description: {{ in: $descriptions }} }}, take: $take }}) {{
    items {{ {PROMOTION_FIELDS} }}
  }}
}}
"""

CREATE_PROMOTION = f"""
mutation CreatePromotion($input: CreatePromotionInput!) {{
  createPromotion(input: $input) {{
    __typename
    ... on Promotion {{ {PROMOTION_FIELDS} }}
    ... on ErrorResult {{ errorCode message }}
  }}
}}
"""

UPDATE_PROMOTION = f"""
mutation UpdatePromotion($input: UpdatePromotionInput!) {{
  updatePromotion(input: $input) {{
    __typename
    ... on Promotion {{ {PROMOTION_FIELDS} }}
    ... on ErrorResult {{ errorCode message }}
  }}
}}
"""
