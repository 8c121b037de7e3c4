package db

import (
	"context"
	"testing"

	"github.com/unsubivr/unsubivr"
)

func TestAddSubscriber(t *testing.T) {
	d, _ := MustOpenDB(t)
	ctx := context.Background()
	s := DemoSubscriber{Number: "13100001111", Password: "135790", Services: []string{"CRBT", "BLUE_DIAMOND"},
		Marketing: map[string]string{"segment": "x"}}
	if err := d.AddSubscriber(ctx, s); err != nil {
		t.Fatal(err)
	}
	subs, err := d.ActiveSubscriptions(ctx, s.Number)
	if err != nil || len(subs) != 2 || subs[0].Service.Code != "CRBT" {
		t.Fatalf("subscriptions %+v, %v", subs, err)
	}
	if err := d.VerifyPassword(ctx, s.Number, "135790"); err != nil {
		t.Errorf("password: %v", err)
	}
	if m, err := d.MarketingProfile(ctx, s.Number); err != nil || m["segment"] != "x" {
		t.Errorf("marketing %v, %v", m, err)
	}
	t.Run("ErrExists", func(t *testing.T) {
		if err := d.AddSubscriber(ctx, s); unsubivr.ErrorCode(err) != unsubivr.ECONFLICT {
			t.Errorf("got %v, want conflict", err)
		}
	})
	t.Run("ErrBadNumber", func(t *testing.T) {
		if err := d.AddSubscriber(ctx, DemoSubscriber{Number: "12345", Password: "1"}); unsubivr.ErrorCode(err) != unsubivr.EINVALID {
			t.Errorf("got %v, want invalid", err)
		}
	})
	t.Run("ErrUnknownService", func(t *testing.T) {
		err := d.AddSubscriber(ctx, DemoSubscriber{Number: "13100002222", Password: "1", Services: []string{"NOPE"}})
		if err == nil {
			t.Fatal("unknown service: want error")
		}
		if _, err := d.Subscriber(ctx, "13100002222"); unsubivr.ErrorCode(err) != unsubivr.ENOTFOUND {
			t.Errorf("half-written subscriber after a failed add: %v", err)
		}
	})
}
